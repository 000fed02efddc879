#!/usr/bin/env node
'use strict';
// Entry point of the `perspective-queue` CLI (compiled sources in ../dist).
process.exitCode = require('../dist/cli/perspective-queue.js').main(process.argv.slice(2));
