'use strict';
// Jest global setup (jest.config.cjs): the system programs the tests need, then the run's own
// temp folder (scripts/test-tmpdir.cjs).
const ensureSystemPackages = require('./ensure-system-packages.cjs');
const { setup } = require('./test-tmpdir.cjs');

module.exports = async () => {
  await ensureSystemPackages();
  setup();
};
