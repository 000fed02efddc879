import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../tests/support/temp-dir';
import { discoverPlugins } from '../src';
import { missingNodeOptions } from '../src/cli/node-options';
import { cjsPlugin, createHostProject, runCli, type FixturePlugin } from './helpers/host-project';

/** A plugin whose manifest asks for a V8 heap size, and whose handler answers with node's flags. */
const heapPlugin: FixturePlugin = {
  name: 'heap-plugin',
  manifest: { contract: '^1.0.0', services: ['heap_service'], nodeOptions: ['--max-semi-space-size=16'] },
  files: {
    'index.js': `
      const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');
      class HeapHandler {
        async handle() {
          return { statusCode: 200, body: JSON.stringify({ execArgv: process.execArgv, pid: process.pid }) };
        }
      }
      pipelineHandler('heap_service')(HeapHandler);
      module.exports = { __esModule: true, default: definePlugin({ handlers: [HeapHandler] }) };
    `,
  },
  packageJson: { main: 'index.js', exports: { '.': './index.js', './package.json': './package.json' } },
};

const root = createHostProject([
  heapPlugin,
  cjsPlugin('plain-plugin', ['plain_service']),
  cjsPlugin('odd-plugin', ['odd_service'], {
    manifest: { contract: '^1.0.0', services: ['odd_service'], nodeOptions: ['--require=./evil.js'] },
  }),
]);
/** `pipeline invoke <service> --json`: its record, and the pid of each node start (a preload notes them). */
const invoke = async (service: string, env: Record<string, string> = {}) => {
  const dir = tempDir('node-options-');
  const starts = join(dir, 'starts');
  const preload = join(dir, 'note-start.cjs');
  writeFileSync(preload, `require('node:fs').appendFileSync(${JSON.stringify(starts)}, process.pid + '\\n');`);
  const { code, stdout, stderr } = await runCli(['invoke', service, '--json'], {
    cwd: root,
    env: { PIPELINE_HOME: join(dir, 'home'), ...env },
    nodeArgs: ['--require', preload],
  });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const record = JSON.parse(stdout) as { status: string; body: string };
  return { record, starts: readFileSync(starts, 'utf8').trim().split('\n') };
};
/** Whether this node can start a process again in place (process.execve: 22.15 and later, not Windows). */
const canRestart = typeof (process as { execve?: unknown }).execve === 'function';

describe('node options a plugin asks for', () => {
  it(`are what \`pipeline invoke\` starts node with for its services (${canRestart ? 'this node restarts in place' : 'this node cannot: the run goes on without them'})`, async () => {
    const { record, starts } = await invoke('heap_service');
    expect(record.status).toBe('SUCCEEDED');
    const { execArgv, pid } = JSON.parse(record.body) as { execArgv: string[]; pid: number };
    expect(execArgv.includes('--max-semi-space-size=16')).toBe(canRestart);
    // started again in the same process (same pid: signals and exit code are the command's), once
    expect(starts).toEqual(canRestart ? [String(pid), String(pid)] : [String(pid)]);
  });

  it("never override the user's own value of the same option, from NODE_OPTIONS or node's arguments", async () => {
    const { record, starts } = await invoke('heap_service', { NODE_OPTIONS: '--max_semi_space_size=32' });
    expect(JSON.parse(record.body).execArgv).toEqual(['--require', expect.any(String)]);
    expect(starts).toHaveLength(1);
    expect(missingNodeOptions(['--max-semi-space-size=16'], ['--max-semi-space-size=8'], undefined)).toEqual([]);
    expect(
      missingNodeOptions(['--max-semi-space-size=16', '--max-old-space-size=512'], [], '--max-old-space-size=2048'),
    ).toEqual(['--max-semi-space-size=16']);
  });

  it('are none for a plugin that asks for none: node starts once', async () => {
    const { record, starts } = await invoke('plain_service');
    expect(record.status).toBe('SUCCEEDED');
    expect(starts).toHaveLength(1);
  });

  it('may only be V8 heap sizes: a manifest asking for anything else is refused, naming the field', () => {
    const { plugins, problems } = discoverPlugins({ root });
    expect(plugins.find((p) => p.packageName === 'heap-plugin')?.nodeOptions).toEqual(['--max-semi-space-size=16']);
    expect(plugins.find((p) => p.packageName === 'plain-plugin')?.nodeOptions).toBeUndefined();
    expect(problems).toEqual([
      {
        packageName: 'odd-plugin',
        message: expect.stringContaining('"nodeOptions" may list V8 heap sizes only'),
      },
    ]);
  });
});
