// The published Lambda entry (`@pipeline-invocation/worker/lambda` through the package's exports,
// not the sources): it loads from its one-file bundle, and a function built on it runs a plugin.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleNames } from '../../../tests/support/bundle-names';
import { tempDir } from '../../../tests/support/temp-dir';

const WORKSPACE = resolve(__dirname, '../../..');
const root = tempDir('lambda-bundle-');

beforeAll(() => {
  for (const ours of ['core', 'storage', 'observability', 'invoker', 'worker']) {
    mkdirSync(join(root, 'node_modules/@pipeline-invocation'), { recursive: true });
    symlinkSync(join(WORKSPACE, 'packages', ours), join(root, 'node_modules/@pipeline-invocation', ours), 'dir');
  }
  const plugin = join(root, 'node_modules/echo-plugin');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(
    join(plugin, 'package.json'),
    JSON.stringify({
      name: 'echo-plugin',
      version: '1.0.0',
      main: 'index.js',
      pipelineInvocation: { contract: '^1.0.0', services: ['echo'] },
    }),
  );
  writeFileSync(
    join(plugin, 'index.js'),
    "const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');\n" +
      "class Echo { handle(event) { return { statusCode: 200, body: 'echo ' + event.word }; } }\n" +
      "pipelineHandler('echo')(Echo);\nmodule.exports = { default: definePlugin({ handlers: [Echo] }) };\n",
  );
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fn', dependencies: { 'echo-plugin': '1.0.0' } }));
  writeFileSync(
    join(root, 'index.js'),
    `const { createLambdaHandler } = require('@pipeline-invocation/worker/lambda');
createLambdaHandler()({ service: 'echo', payload: { word: 'hi' }, metadata: {} }, { getRemainingTimeInMillis: () => 60000 })
  .then((response) => {
    const files = Object.keys(require.cache);
    process.stdout.write(JSON.stringify({ response, zodFromFiles: files.some((f) => f.includes('/zod/')) }));
  });
`,
  );
});

it('answers an invocation from its bundle: zod and the rest come from the one file', () => {
  const out = execFileSync(process.execPath, ['index.js'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'warn',
      PIPELINE_HOME: join(root, '.pipeline'),
      PIPELINE_CACHE_DIR: join(root, '.cache'),
    },
    encoding: 'utf8',
  });
  const { response, zodFromFiles } = JSON.parse(out);
  expect(response).toMatchObject({ service: 'echo', status_code: 200, body: 'echo hi' });
  expect(zodFromFiles).toBe(false);
});

it('keeps the names a user sees: each module answers with the functions and classes its file exports, named alike', () => {
  const names = bundleNames(join(WORKSPACE, 'packages/worker/dist/lambda.bundle.js'));
  expect(names.bundle['packages/worker/dist/lambda.js']?.createLambdaHandler).toBe('createLambdaHandler');
  expect(names.bundle).toEqual(names.files);
});
