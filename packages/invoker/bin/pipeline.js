#!/usr/bin/env node
'use strict';
// Entry point of the `pipeline` CLI (compiled sources in ../dist).
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // A handler that ignored its abort signal may still hold the event loop: do not wait for it.
    setTimeout(() => process.exit(code), 200).unref();
  });
