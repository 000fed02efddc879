'use strict';
// The test environment of every jest project (jest.preset.cjs): Node's, plus the removal of the
// folders a test file made with tempDir() (tests/support/temp-dir.ts). The removal runs when the
// file has finished, after all of its afterAll hooks, so a hook that stops a child process, closes
// a store or unmounts a file system in one of the folders still finds it there.
const { rmSync } = require('node:fs');
const { TestEnvironment } = require('jest-environment-node');

class PipelineTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // read by tempDir(): the test's global, so every module of the file (and a re-required copy) sees one list
    this.global.__pipelineTempDirs = [];
  }

  async teardown() {
    const dirs = this.global?.__pipelineTempDirs ?? [];
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch (error) {
        // reported, not thrown: the tests have passed or failed already; the run's check names what is left
        process.stderr.write(`could not remove the test folder ${dir}: ${error.message}\n`);
      }
    }
    await super.teardown();
  }
}

module.exports = PipelineTestEnvironment;
