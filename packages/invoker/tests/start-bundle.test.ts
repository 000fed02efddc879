// The CLI's start path from its one-file bundle (dist/pipeline.bundle.js, scripts/bundle-start.mjs):
// it shares its modules with the plugins, keeps a code cache outside the package, and steps
// aside when the installed packages are not the ones it was built from.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';

const WORKSPACE = resolve(__dirname, '../../..');

/** A plugin whose handler takes the logger by constructor injection (tsyringe, through core). */
const injected = cjsPlugin('injected-plugin', ['injected_service'], {
  files: {
    'index.js': `
      const { definePlugin, pipelineHandler, inject, LOGGER } = require('@pipeline-invocation/core');
      class Injected {
        constructor(logger) { this.logger = logger; }
        handle() { this.logger.warn('hello from an injected logger'); return { statusCode: 200, body: 'injected' }; }
      }
      inject(LOGGER)(Injected, undefined, 0);
      pipelineHandler('injected_service')(Injected);
      module.exports = { default: definePlugin({ handlers: [Injected] }) };
    `,
  },
});
const root = createHostProject([injected]);

/** Run the CLI and list every module its process loaded from a file of its own. */
async function run(args: string[], env: Record<string, string> = {}) {
  const out = join(mkdtempSync(join(tmpdir(), 'bundle-modules-')), 'modules.json');
  const preload = join(out, '..', 'preload.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
  );
  const result = await runCli(args, {
    cwd: root,
    env: { PIPELINE_HOME: mkdtempSync(join(tmpdir(), 'bundle-home-')), ...env },
    nodeArgs: ['--require', preload],
  });
  return { ...result, modules: JSON.parse(readFileSync(out, 'utf8')) as string[] };
}

const invoke = ['invoke', 'injected_service', '--json'];

describe('pipeline invoke from the start bundle', () => {
  it('was built with the package', () => {
    expect(existsSync(join(WORKSPACE, 'packages/invoker/dist/pipeline.bundle.js'))).toBe(true);
  });

  it('runs a plugin whose handler is injected through its own require of core (one core, one tsyringe)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'bundle-cache-'));
    const { code, stdout, stderr, modules } = await run(invoke, { PIPELINE_CACHE_DIR: cache });
    expect([code, JSON.parse(stdout).status, JSON.parse(stdout).body]).toEqual([0, 'SUCCEEDED', 'injected']);
    expect(stderr).toContain('hello from an injected logger');
    // started from the bundle: zod, tsyringe and pino were never read from their own files
    expect(modules.filter((m) => /node_modules\/(zod|tsyringe|pino)\//.test(m))).toEqual([]);
    // the plugin's require of core was answered with the bundle's module
    expect(modules.some((m) => m.endsWith(join('packages', 'core', 'dist', 'index.js')))).toBe(true);
    // V8's code cache for the next start, outside the package
    expect(readdirSync(cache).filter((f) => f.startsWith('pipeline.bundle-') && f.endsWith('.v8'))).toHaveLength(1);
    const again = await run(invoke, { PIPELINE_CACHE_DIR: cache });
    expect([again.code, JSON.parse(again.stdout).status]).toEqual([0, 'SUCCEEDED']);
  });

  it('still runs when the cache folder cannot be made', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bundle-nocache-')), 'a-file');
    writeFileSync(file, ''); // a folder under a file cannot be made, not even by root
    const { code, stdout } = await run(invoke, { PIPELINE_CACHE_DIR: join(file, 'cache') });
    expect([code, JSON.parse(stdout).status]).toEqual([0, 'SUCCEEDED']);
  });

  it('steps aside for the compiled files when a bundled package was rebuilt since', async () => {
    const buildInfo = join(WORKSPACE, 'packages/core/dist/.tsbuildinfo');
    const built = readFileSync(buildInfo);
    const rebuilt = Buffer.concat([built, Buffer.from('\n')]); // what a rebuild does: other content (still valid JSON)
    writeFileSync(buildInfo, rebuilt);
    try {
      const { code, stdout, modules } = await run(invoke);
      expect([code, JSON.parse(stdout).status]).toEqual([0, 'SUCCEEDED']);
      expect(modules.some((m) => /node_modules\/tsyringe\//.test(m))).toBe(true); // read from its own files
    } finally {
      // put it back, unless a real build wrote it meanwhile
      if (readFileSync(buildInfo).equals(rebuilt)) writeFileSync(buildInfo, built);
    }
  });

  it('is not used by pipeline list, which starts faster from a few files', async () => {
    const { code, modules } = await run(['list']);
    expect(code).toBe(0);
    expect(modules.some((m) => m.endsWith('start-loader.cjs'))).toBe(false);
  });
});
