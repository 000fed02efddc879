import { join } from 'node:path';
import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createInvoker } from '@pipeline-invocation/invoker';
import { silentLogger } from '@pipeline-invocation/observability';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { cjsPlugin, createHostProject, runCli } from '../../packages/invoker/tests/helpers/host-project';
import { SOAK, countedCase, tally } from './helpers/tally';
import { tempDir } from '../support/temp-dir';

@pipelineHandler('load_service')
class LoadHandler implements PipelineHandler<{ i: number }> {
  async handle(event: { i: number }) {
    await new Promise((resolve) => setImmediate(resolve));
    return { statusCode: 200, body: `run ${event.i}` };
  }
}

const root = createHostProject([
  cjsPlugin('load-plugin', ['cli_load_service']),
  cjsPlugin('undeclared-plugin', ['sneaky_service'], { declared: false }),
  {
    name: 'unbranded-plugin',
    manifest: { contract: '^1.0.0', services: ['unbranded_service'] },
    files: { 'index.js': 'module.exports = { default: { handlers: [] } };' },
    packageJson: { main: 'index.js' },
  },
]);

describe('load', () => {
  it('concurrent in-process invocations on one SQLite file: each recorded exactly once, unique ids, no SQLITE_BUSY', async () => {
    const count = SOAK ? 5000 : 1000;
    const file = join(tempDir('load-'), 'runs.db');
    const invoker = createInvoker({
      discover: false,
      outbox: false,
      env: {},
      logger: silentLogger,
      tracker: false,
      handlers: [LoadHandler],
      store: new SqliteRunStore(file),
    });
    const records = await Promise.all(
      Array.from({ length: count }, (_, i) => invoker.invokePipelineHandler('load_service', { i })),
    );
    await invoker.close();
    const stored = await new SqliteRunStore(file).list({ limit: 1000 });
    const all: string[] = [];
    let cursor: string | undefined;
    const reader = new SqliteRunStore(file);
    do {
      const page = await reader.list({ limit: 1000, cursor });
      all.push(...page.items.map((r) => r.body));
      cursor = page.nextCursor;
    } while (cursor);
    await reader.close();
    const succeeded = records.filter((r) => r.status === 'SUCCEEDED').length;
    tally('load (in-process)', { tried: count, passed: succeeded, lost: count - new Set(all).size });
    expect(succeeded).toBe(count);
    expect(new Set(records.map((r) => r.run_id)).size).toBe(count);
    expect(all.sort()).toEqual(records.map((r) => r.body).sort());
    expect(stored.items.length).toBe(Math.min(count, 1000));
  }, 120_000);

  it('concurrent CLI processes: every run recorded exactly once, unique run ids', async () => {
    const count = SOAK ? 200 : 50;
    const home = tempDir('load-cli-');
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        runCli(['invoke', 'cli_load_service', '--payload', JSON.stringify({ i }), '--json'], {
          cwd: root,
          env: { PIPELINE_HOME: home },
        }),
      ),
    );
    const ok = results.filter((r) => r.code === 0);
    const ids = ok.map((r) => JSON.parse(r.stdout).run_id as string);
    const stored = JSON.parse(
      (await runCli(['runs', '--json', '--limit', '1000'], { cwd: root, env: { PIPELINE_HOME: home } })).stdout,
    ).items;
    tally('load (CLI processes)', { tried: count, passed: ok.length, lost: count - stored.length });
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    expect(new Set(ids).size).toBe(count);
    expect(stored.map((r: { run_id: string }) => r.run_id).sort()).toEqual([...ids].sort());
    expect(results.some((r) => /SQLITE_BUSY|database is locked/i.test(r.stderr))).toBe(false);
  }, 180_000);
});

describe('plugins', () => {
  const cli = (args: string[]) => runCli(args, { cwd: root, env: { PIPELINE_HOME: tempDir('plugins-') } });

  it('a package in node_modules that is not a declared dependency is never loaded', () =>
    countedCase('plugins', async (figures) => {
      const list = await cli(['list', '--json']);
      const listed = JSON.parse(list.stdout).map((s: { service: string }) => s.service);
      const invoked = await cli(['invoke', 'sneaky_service']);
      figures.observe(!listed.includes('sneaky_service') && invoked.code === 3);
      expect(listed).not.toContain('sneaky_service');
      expect(invoked.code).toBe(3);
    }));

  it('a default export that is not a branded plugin is refused with a clear message', () =>
    countedCase('plugins', async (figures) => {
      const invoked = await cli(['invoke', 'unbranded_service']);
      figures.observe(
        invoked.code === 5 && invoked.stderr.includes('export default definePlugin({ handlers: [...] })'),
      );
      expect(invoked.code).toBe(5);
      expect(invoked.stderr).toContain('Could not load handler plugin "unbranded-plugin"');
      expect(invoked.stderr).toContain('export default definePlugin({ handlers: [...] })');
    }));
});
