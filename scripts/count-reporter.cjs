// Prints the plain closing line CI counts tests by: "N passed, N failed".
class CountReporter {
  onRunComplete(_contexts, results) {
    const failed =
      results.numFailedTests + (results.numRuntimeErrorTestSuites > 0 ? results.numRuntimeErrorTestSuites : 0);
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed\n`);
  }
}
module.exports = CountReporter;
