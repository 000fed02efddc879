// Every test file appends its figures to one tally file; the teardown prints the table.
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async () => {
  process.env.RELIABILITY_TALLY = join(mkdtempSync(join(tmpdir(), 'reliability-')), 'tally.jsonl');
};
