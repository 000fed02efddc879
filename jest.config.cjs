// One jest run over every package (and the reliability suite), ending with the plain
// "N passed, N failed" line CI reads.
module.exports = {
  projects: [
    '<rootDir>/packages/*/jest.config.cjs',
    '<rootDir>/tools/jest.config.cjs',
    '<rootDir>/tests/reliability/jest.config.cjs',
  ],
  reporters: ['default', '<rootDir>/scripts/count-reporter.cjs'],
  // Obtains redis-server (worker, reliability tests) and chromium (dashboard tests) on a fresh machine,
  // and gives the run a temp folder of its own (TMPDIR); the teardown reports what the tests left
  // in it (under CI it fails the run) and removes it (scripts/test-tmpdir.cjs).
  globalSetup: '<rootDir>/scripts/jest-global-setup.cjs',
  globalTeardown: '<rootDir>/scripts/jest-global-teardown.cjs',
  // A global option: jest ignores testTimeout in project configs when it runs several projects.
  testTimeout: 60_000,
};
