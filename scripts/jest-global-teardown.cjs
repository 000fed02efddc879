'use strict';
// Jest global teardown (jest.config.cjs): reports (under CI, fails on) what the tests left in the
// temp folder, and removes it (scripts/test-tmpdir.cjs).
module.exports = async () => require('./test-tmpdir.cjs').teardown();
