import { join } from 'node:path';
import { RunLifecycle, runIdFloor, type RunExecutionMetadata } from '@pipeline-invocation/core';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

const root = createHostProject([cjsPlugin('prune-plugin', ['prune_service'])]);
const home = tempDir('prune-home-');
const cli = (args: string[]) => runCli(args, { cwd: root, env: { PIPELINE_HOME: home } });

const DAY = 86_400_000;
let serial = 0;
/** A finished (or RUNNING) record of a run started `daysAgo` days ago. */
function record(daysAgo: number, status: RunExecutionMetadata['status']): RunExecutionMetadata {
  const started = new Date(Date.now() - daysAgo * DAY).toISOString();
  return {
    service: 'prune_service',
    timestamp: started,
    status_code: status === 'SUCCEEDED' ? 200 : status === 'RUNNING' ? 0 : 500,
    body: '',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: `${runIdFloor(Date.now() - daysAgo * DAY)}${String(++serial).padStart(16, '0')}`,
    status,
    started_at: started,
    ...(status === 'RUNNING' ? {} : { ended_at: started, duration_ms: 1 }),
    handler_package: 'prune-plugin',
    handler_version: '1.0.0',
    request_metadata: {},
  };
}

describe('pipeline runs prune', () => {
  it('removes finished runs older than the age, keeps RUNNING ones, and says how many', async () => {
    const store = new SqliteRunStore(join(home, 'runs.db'));
    const runs = [record(200, 'SUCCEEDED'), record(150, 'FAILED'), record(120, 'RUNNING'), record(5, 'SUCCEEDED')];
    const lifecycle = new RunLifecycle(store);
    for (const r of runs) {
      await lifecycle.begin({ ...r, status: 'RUNNING' });
      if (r.status !== 'RUNNING') await lifecycle.finish(r);
    }
    await store.close();

    const dry = await cli(['runs', 'prune', '--older-than', '90d', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ removed: 2, dry_run: true });

    const keepFailed = await cli(['runs', 'prune', '--older-than', '90d', '--keep-failed']);
    expect(keepFailed.stdout).toMatch(/^Removed 1 finished run\(s\) started before \S+ from sqlite:/);

    expect(JSON.parse((await cli(['runs', 'prune', '--older-than', '0d', '--json'])).stdout).removed).toBe(2);
    const left = JSON.parse((await cli(['runs', '--json'])).stdout).items;
    expect(left.map((r: RunExecutionMetadata) => [r.run_id, r.status])).toEqual([[runs[2]!.run_id, 'RUNNING']]);
  });

  it.each([
    [['--older-than', '90'], '--older-than must be a whole number with a unit'],
    [['--older-than', 'soon'], '--older-than must be a whole number with a unit'],
    [[], '--older-than is required'],
  ])('refuses %j with exit code 2 and the form expected', async (flags, message) => {
    const refused = await cli(['runs', 'prune', ...flags]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(message);
  });
});
