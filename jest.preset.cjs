// Shared jest settings: swc transform with legacy decorators (as tsc's experimentalDecorators;
// no decorator metadata: DI is by @inject tokens only), reflect-metadata loaded first, and workspace
// packages mapped to their sources so tests need no build (CLI tests use the built dist).
const path = require('node:path');

const packages = path.join(__dirname, 'packages');

module.exports = (dir) => ({
  displayName: path.basename(dir),
  rootDir: dir,
  // Node's, removing the folders a test file made with tempDir() (tests/support/temp-dir.ts) once it has finished
  testEnvironment: path.join(__dirname, 'scripts/jest-environment.cjs'),
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  setupFiles: [require.resolve('reflect-metadata')],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: false },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: {
    '^@pipeline-invocation/(core|storage|observability|invoker|worker|post-labelling|handler-perspective-api|handler-openai-moderation|handler-python)$': `${packages}/$1/src/index.ts`,
    '^@pipeline-invocation/core/errors$': `${packages}/core/src/errors.ts`,
    '^@pipeline-invocation/core/env$': `${packages}/core/src/env.ts`,
    '^@pipeline-invocation/invoker/testing$': `${packages}/invoker/src/testing/index.ts`,
    '^@pipeline-invocation/invoker/cli$': `${packages}/invoker/src/cli/extension.ts`,
    '^@pipeline-invocation/storage/dynamodb$': `${packages}/storage/src/dynamodb/index.ts`,
    '^@pipeline-invocation/worker/(lambda|cli)$': `${packages}/worker/src/$1`,
  },
  // Used when one project runs alone (`jest --selectProjects x` still takes the root's value).
  testTimeout: 60_000,
});
