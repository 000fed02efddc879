// The Lambda entry as a deployed function has it: our packages installed as npm installs them
// (their published files: no build info, no workspace links), in Lambda's environment. It starts
// from its bundle, compiles zod from the bundle's deferred part only when a plugin uses it, and
// keeps no code cache a new execution environment would never read.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../../../tests/support/temp-dir';

const WORKSPACE = resolve(__dirname, '../../..');
const root = tempDir('lambda-deployed-');
const ours = join(root, 'node_modules/@pipeline-invocation');

/** What npm installs of one of our packages: its manifest, its build (no build info) and entry files. */
function install(name: string) {
  const from = join(WORKSPACE, 'packages', name);
  const to = join(ours, name);
  mkdirSync(to, { recursive: true });
  for (const entry of ['package.json', 'dist', 'bin', 'lambda.cjs']) {
    if (!existsSync(join(from, entry))) continue;
    cpSync(join(from, entry), join(to, entry), {
      recursive: true,
      filter: (file) => !file.endsWith('.tsbuildinfo'),
    });
  }
  // a version of a library of its own, which npm nests under it (as the workspace does)
  if (existsSync(join(from, 'node_modules'))) {
    mkdirSync(join(to, 'node_modules'));
    for (const lib of readdirSync(join(from, 'node_modules'))) {
      if (!lib.startsWith('.')) symlinkSync(join(from, 'node_modules', lib), join(to, 'node_modules', lib), 'dir');
    }
  }
}

/** A plugin whose handler checks its payload with zod (through core's `z`). */
function plugin(name: string, service: string) {
  const dir = join(root, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      main: 'index.js',
      pipelineInvocation: { contract: '^1.0.0', services: [service] },
    }),
  );
  writeFileSync(
    join(dir, 'index.js'),
    `const { definePlugin, pipelineHandler, z } = require('@pipeline-invocation/core');
class Handler { handle(event) { return { statusCode: 200, body: '${service} ' + event.word }; } }
pipelineHandler('${service}', { payload: z.object({ word: z.string() }) })(Handler);
module.exports = { default: definePlugin({ handlers: [Handler] }) };
`,
  );
}

beforeAll(() => {
  for (const name of ['core', 'storage', 'observability', 'invoker', 'worker']) install(name);
  // the libraries, from the workspace's install
  for (const lib of readdirSync(join(WORKSPACE, 'node_modules'))) {
    if (lib.startsWith('.') || lib === '@pipeline-invocation') continue;
    symlinkSync(join(WORKSPACE, 'node_modules', lib), join(root, 'node_modules', lib), 'dir');
  }
  plugin('echo-plugin', 'echo');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fn', dependencies: { 'echo-plugin': '1.0.0' } }));
  writeFileSync(
    join(root, 'index.js'),
    `const { createLambdaHandler } = require('@pipeline-invocation/worker/lambda');
const fromFiles = (pattern) => Object.keys(require.cache).some((f) => pattern.test(f));
const bundled = !fromFiles(/@pipeline-invocation\\/invoker\\/dist\\/invoker\\.js$/);
createLambdaHandler()(JSON.parse(process.argv[2]), { getRemainingTimeInMillis: () => 60000 }).then((response) => {
  process.stdout.write(JSON.stringify({ response, bundled, zodFromFiles: fromFiles(/node_modules\\/zod\\//) }));
});
`,
  );
});

/** One invocation in a new Lambda environment: its own empty HOME and TMPDIR. */
function invoke(env: Record<string, string> = {}) {
  const home = tempDir('lambda-home-');
  const tmp = tempDir('lambda-tmp-');
  const out = execFileSync(
    process.execPath,
    ['index.js', JSON.stringify({ service: 'echo', payload: { word: 'hi' }, metadata: {} })],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TMPDIR: tmp,
        AWS_LAMBDA_FUNCTION_NAME: 'echo-fn',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        LAMBDA_TASK_ROOT: root,
        LOG_LEVEL: 'warn',
        PIPELINE_STORE: 'memory',
        ...env,
      },
      encoding: 'utf8',
    },
  );
  return { ...JSON.parse(out), home: readdirSync(home), tmp: readdirSync(tmp) };
}

describe('the Lambda entry, deployed', () => {
  it('answers from its bundle, zod from its deferred part, and writes no code cache in a new environment', () => {
    const { response, bundled, zodFromFiles, home, tmp } = invoke();
    expect(response).toMatchObject({ service: 'echo', status_code: 200, body: 'echo hi' });
    expect([bundled, zodFromFiles]).toEqual([true, false]);
    // nothing in HOME (~/.cache) or the temp folder: the environment imports the entry once
    expect([home, tmp]).toEqual([[], []]);
  });

  it("keeps the bundle's code cache where PIPELINE_CACHE_DIR names a folder (one a mount keeps), written as it is imported", () => {
    const cache = tempDir('lambda-cache-');
    const first = invoke({ PIPELINE_CACHE_DIR: cache });
    expect(first.response.status_code).toBe(200);
    const caches = readdirSync(cache).filter((f) => f.endsWith('.v8'));
    expect(caches.map((f) => f.replace(/-[0-9a-f]{8}-.*$/, ''))).toEqual(['lambda.bundle']);
    // the next environment reads it, and answers alike
    const next = invoke({ PIPELINE_CACHE_DIR: cache });
    expect([next.response.body, readdirSync(cache).filter((f) => f.endsWith('.v8'))]).toEqual(['echo hi', caches]);
  });

  it('refuses a deferred part from another build, naming the file and the fix', () => {
    const part = join(ours, 'worker/dist/lambda-zod.bundle.js');
    const text = readFileSync(part, 'utf8');
    writeFileSync(part, text.replace(/^\/\/ start-bundle [0-9a-f]+/, '// start-bundle 0000000000000000'));
    try {
      const { response } = invoke();
      expect(response.status_code).toBe(500);
      expect(response.body).toContain(`${part} is not the one`);
      expect(response.body).toContain('reinstall the package');
    } finally {
      writeFileSync(part, text);
    }
  });
});
