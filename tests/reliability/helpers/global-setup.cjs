// Every test file appends its figures to one tally file; the teardown prints the table and removes
// the file's folder (made in the OS temp folder itself: project setups run before the root one,
// which gives the run its own temp folder).
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async () => {
  process.env.RELIABILITY_TALLY = join(mkdtempSync(join(tmpdir(), 'reliability-')), 'tally.jsonl');
};
