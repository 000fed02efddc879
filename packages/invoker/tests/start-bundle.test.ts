// The CLI's start path from its one-file bundle (dist/pipeline.bundle.js, scripts/bundle-start.mjs):
// it shares its modules with the plugins, keeps a code cache outside the package, and steps
// aside when the installed packages are not the ones it was built from.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';
import { bundleNames } from '../../../tests/support/bundle-names';
import { tempDir } from '../../../tests/support/temp-dir';

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
/** A plugin that answers with zod's English message, then its French one (a translation zod loads when asked). */
const translated = cjsPlugin('translated-plugin', ['translated_service'], {
  files: {
    'index.js': `
      const { definePlugin, pipelineHandler, z } = require('@pipeline-invocation/core');
      class Translated {
        handle() {
          const english = z.string().safeParse(1).error.issues[0].message;
          z.config(z.locales.fr());
          const french = z.string().safeParse(1).error.issues[0].message;
          z.config(z.locales.en());
          return { statusCode: 200, body: JSON.stringify({ english, french, again: z.string().safeParse(1).error.issues[0].message }) };
        }
      }
      pipelineHandler('translated_service')(Translated);
      module.exports = { default: definePlugin({ handlers: [Translated] }) };
    `,
  },
});
const root = createHostProject([injected, translated]);

/** Run the CLI and list every module its process loaded from a file of its own. */
async function run(args: string[], env: Record<string, string> = {}) {
  const out = join(tempDir('bundle-modules-'), 'modules.json');
  const preload = join(out, '..', 'preload.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
  );
  const result = await runCli(args, {
    cwd: root,
    env: { PIPELINE_HOME: tempDir('bundle-home-'), ...env },
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
    const cache = tempDir('bundle-cache-');
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
    const file = join(tempDir('bundle-nocache-'), 'a-file');
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

  it("holds zod's English messages; a translation is read from its own file when asked for", async () => {
    const { code, stdout, modules } = await run(['invoke', 'translated_service', '--json']);
    expect([code, JSON.parse(JSON.parse(stdout).body)]).toEqual([
      0,
      {
        english: 'Invalid input: expected string, received number',
        french: expect.stringContaining('Entrée invalide'),
        again: 'Invalid input: expected string, received number',
      },
    ]);
    // started from the bundle (tsyringe not from its files); of zod's translations, only the French one
    // (its require of zod's util is answered with the bundle's module)
    expect(modules.filter((m) => /node_modules\/(zod\/v4\/locales|tsyringe)\//.test(m))).toEqual([
      expect.stringMatching(/node_modules\/zod\/v4\/locales\/fr\.cjs$/),
    ]);
  });

  it('checks the installed packages by their stats after the first start, and still steps aside for a rebuild', async () => {
    const cache = tempDir('bundle-cache-');
    const first = await run(invoke, { PIPELINE_CACHE_DIR: cache });
    expect([first.code, readdirSync(cache).filter((f) => f.endsWith('.check.json'))]).toEqual([
      0,
      [expect.stringMatching(/^pipeline\.bundle-/)],
    ]);
    const fromBundle = (modules: string[]) => !modules.some((m) => /node_modules\/tsyringe\//.test(m));
    const buildInfo = join(WORKSPACE, 'packages/core/dist/.tsbuildinfo');
    const built = readFileSync(buildInfo);
    // a build restored with the same content but new file times: still the bundle
    writeFileSync(buildInfo, built);
    const touched = await run(invoke, { PIPELINE_CACHE_DIR: cache });
    expect([touched.code, fromBundle(touched.modules)]).toEqual([0, true]);
    const rebuilt = Buffer.concat([built, Buffer.from('\n')]);
    writeFileSync(buildInfo, rebuilt);
    try {
      const after = await run(invoke, { PIPELINE_CACHE_DIR: cache });
      expect([after.code, JSON.parse(after.stdout).status, fromBundle(after.modules)]).toEqual([0, 'SUCCEEDED', false]);
    } finally {
      if (readFileSync(buildInfo).equals(rebuilt)) writeFileSync(buildInfo, built);
    }
  });

  it('compiles zod only when a plugin uses it: from its own file beside the bundle, with a code cache of its own', async () => {
    const cache = tempDir('bundle-cache-');
    // the code caches written, by file: `<bundle file>-<place>-<build>-<node>-<arch>.v8`
    const cached = () =>
      readdirSync(cache)
        .filter((f) => f.endsWith('.v8'))
        .map((f) => f.replace(/-[0-9a-f]{8}-.*$/, ''))
        .sort();
    const plain = await run(invoke, { PIPELINE_CACHE_DIR: cache });
    expect([plain.code, cached()]).toEqual([0, ['pipeline.bundle']]);
    const translatedRun = await run(['invoke', 'translated_service', '--json'], { PIPELINE_CACHE_DIR: cache });
    expect([translatedRun.code, JSON.parse(JSON.parse(translatedRun.stdout).body).english]).toEqual([
      0,
      'Invalid input: expected string, received number',
    ]);
    expect(cached()).toEqual(['pipeline-zod.bundle', 'pipeline.bundle']);
    // zod's schemas came from the bundle's part, not from their files (only the French translation,
    // which asks for zod's util: the bundle answers that require, as the test above shows)
    expect(translatedRun.modules.filter((m) => /node_modules\/zod\/v4\/(classic|locales)\//.test(m))).toEqual([
      expect.stringMatching(/node_modules\/zod\/v4\/locales\/fr\.cjs$/),
    ]);
    const again = await run(['invoke', 'translated_service', '--json'], { PIPELINE_CACHE_DIR: cache });
    expect([again.code, cached()]).toEqual([0, ['pipeline-zod.bundle', 'pipeline.bundle']]);
  });

  it('keeps the names a user sees: each module answers with the functions and classes its file exports, named alike', () => {
    const names = bundleNames(join(WORKSPACE, 'packages/invoker/dist/pipeline.bundle.js'));
    // every module of the bundle and its deferred parts, zod's and semver's among them
    expect(Object.keys(names.bundle).length).toBeGreaterThan(200);
    expect(names.bundle['packages/core/dist/errors.js']?.InvalidRequestError).toBe('InvalidRequestError');
    expect(names.bundle['node_modules/zod/v4/classic/schemas.cjs']?.ZodObject).toBe('ZodObject');
    expect(names.bundle).toEqual(names.files);
  });

  it('is not used by pipeline list, which starts faster from a few files', async () => {
    const { code, modules } = await run(['list']);
    expect(code).toBe(0);
    expect(modules.some((m) => m.endsWith('start-loader.cjs'))).toBe(false);
  });
});
