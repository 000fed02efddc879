#!/usr/bin/env node
// npx @pipeline-invocation/tools handler-plugin --name <kebab> --service <snake> [--scope @acme]
'use strict';
process.exitCode = require('../src/standalone/handler-plugin.cjs').main(process.argv.slice(2));
