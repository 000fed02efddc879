#!/usr/bin/env node
'use strict';
// Entry point of the `pipeline` CLI. The invoker's own commands that run handlers or open a
// store start from the build's one-file bundle of that path (dist/pipeline.bundle.js, with V8's
// code cache: see scripts/bundle-start.mjs). `pipeline list`, help and version load a few small
// files and start faster without it; the worker's and the dashboard's commands are long-running
// processes of other packages, and start from the files. With no bundle, or one that does not fit
// the installed packages, every command starts from the compiled sources in ../dist.
const { join } = require('node:path');

const UNBUNDLED = new Set([undefined, 'list', 'help', '-h', '--help', '-v', '--version']);
for (const command of ['worker', 'queue', 'schedule', 'dashboard']) UNBUNDLED.add(command);
let start;
if (!UNBUNDLED.has(process.argv[2])) {
  try {
    start = require('../dist/start-loader.cjs').loadStart(join(__dirname, '..', 'dist', 'pipeline.bundle.js'));
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
  }
}
const cli = start ? start.exports : require('../dist/cli/main.js');
const argv = process.argv.slice(2);
// Nothing left to run while the command has not answered: a bug, never a silent exit 0 (answer-guard.js).
let answered = false;
process.on('beforeExit', () => {
  if (!answered) require('./answer-guard.js').noAnswer(argv);
  answered = true;
});
cli.main(argv).then((code) => {
  answered = true;
  process.exitCode = code;
  start?.saveCache();
  // A handler that ignored its abort signal may still hold the event loop: do not wait for it.
  setTimeout(() => process.exit(code), 200).unref();
});
