// The reliability suite: proves the promises the packages make, with figures. `npm test` runs
// the default profile; `npm run test:soak` the heavier one (RELIABILITY_PROFILE=soak).
const base = require('../../jest.preset.cjs')(__dirname);

module.exports = {
  ...base,
  displayName: 'reliability',
  testMatch: ['<rootDir>/**/*.test.ts'],
  globalSetup: '<rootDir>/helpers/global-setup.cjs',
  globalTeardown: '<rootDir>/helpers/global-teardown.cjs',
};
