import { spawnSync } from 'node:child_process';
import { cjsPlugin, createHostProject } from './helpers/host-project';

// From an ES module, `import plugin from '<a CommonJS plugin>'` gives the module object, whose
// `default` is the plugin: createInvoker and createTestInvoker take it as it comes.
const root = createHostProject([cjsPlugin('generated-cjs-plugin', ['generated_service'])]);

describe('an ES module importing a CommonJS plugin', () => {
  it('passes the imported module to createInvoker and createTestInvoker, and its service runs', () => {
    const script = `
      import plugin from 'generated-cjs-plugin';
      import { createInvoker } from '@pipeline-invocation/invoker';
      import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
      const shape = typeof plugin.default === 'object' ? 'module object' : 'plugin';
      const direct = createInvoker({ discover: false, plugins: [plugin], env: { PIPELINE_STORE: 'memory', LOG_LEVEL: 'error' }, outbox: false });
      const { invoker } = createTestInvoker({ plugins: [plugin] });
      const a = await direct.invokePipelineHandler('generated_service', {});
      const b = await invoker.invokePipelineHandler('generated_service', {});
      console.log(JSON.stringify({ shape, statuses: [a.status, b.status] }));
      await direct.close();
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, LOG_LEVEL: 'error' },
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ shape: 'module object', statuses: ['SUCCEEDED', 'SUCCEEDED'] });
  });
});
