import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cjsPlugin, createHostProject, esmPlugin } from './helpers/host-project';

// A long-lived process (a worker) whose plugin failed to import must heal once the package is
// fixed on disk, without a restart. Node's own module caches decide this, so it is tested in a
// real Node process running the built invoker, not under jest's module registry.
const cjs = cjsPlugin('flaky-cjs', ['flaky_cjs']);
const esm = esmPlugin('flaky-esm', 'flaky_esm');
const broken = "throw new Error('deployed half-way: dependency missing');";
const root = createHostProject([
  { ...cjs, files: { 'index.js': broken } },
  { ...esm, files: { 'dist/index.mjs': broken } },
]);

const script = (service: string, file: string, fixed: string, payload: object) => `
  const { writeFileSync } = require('node:fs');
  const { createInvoker } = require('@pipeline-invocation/invoker');
  let nowMs = Date.now(); // the invoker's clock: the back-off passes without waiting for it
  const invoker = createInvoker({ clock: { now: () => nowMs }, pluginRetryMs: 300, outbox: false, env: { PIPELINE_STORE: 'memory', LOG_LEVEL: 'error' } });
  const attempt = () => invoker.invokePipelineHandler(${JSON.stringify(service)}, ${JSON.stringify(payload)})
    .then((r) => r.status, (e) => e.name + ': ' + e.message);
  (async () => {
    const seen = [await attempt()];
    writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(fixed)});
    seen.push(await attempt()); // within the back-off: the failure is remembered
    nowMs += 400;
    seen.push(await attempt()); // after it: imported afresh
    console.log(JSON.stringify(seen));
    await invoker.close();
  })();
`;

describe('a plugin fixed after a failed import', () => {
  it.each([
    ['CommonJS', 'flaky_cjs', join(root, 'node_modules/flaky-cjs/index.js'), cjs.files['index.js']!, {}],
    [
      'ES module',
      'flaky_esm',
      join(root, 'node_modules/flaky-esm/dist/index.mjs'),
      esm.files['dist/index.mjs']!,
      { word: 'back' },
    ],
  ])(
    '%s: is imported again after the back-off and its service runs, without a restart',
    (_, service, file, fixed, payload) => {
      const child = spawnSync(process.execPath, ['-e', script(service, file, fixed, payload)], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, LOG_LEVEL: 'error' },
        timeout: 30_000,
      });
      expect(child.stderr).toBe('');
      const seen = JSON.parse(child.stdout) as string[];
      expect(seen[0]).toMatch(/^PluginLoadError: .*deployed half-way/);
      expect(seen[1]).toMatch(/^PluginLoadError: .*deployed half-way/);
      expect(seen[2]).toBe('SUCCEEDED');
    },
  );
});
