'use strict';
// `@pipeline-invocation/worker/lambda`, the AWS Lambda entry (src/lambda.ts). It loads from the
// build's one-file bundle of the entry and what it imports (dist/lambda.bundle.js, with V8's code
// cache: see scripts/bundle-start.mjs in the repository), so a cold start reads one file instead
// of ~200; with no bundle, or one that does not fit the installed packages, from dist/lambda.js.
const { join } = require('node:path');

let start;
try {
  start = require('./dist/start-loader.cjs').loadStart(join(__dirname, 'dist', 'lambda.bundle.js'));
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
}
start?.saveCache();
module.exports = start ? start.exports : require('./dist/lambda.js');
