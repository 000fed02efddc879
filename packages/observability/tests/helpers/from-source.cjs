// Preload for child processes in tests (`node -r @swc-node/register -r <this file> script`):
// resolve workspace packages to their TypeScript sources with the same map jest uses
// (jest.preset.cjs), so a child runs the code under test, not a possibly stale dist.
'use strict';
const Module = require('node:module');
const { join } = require('node:path');

const { moduleNameMapper } = require(join(__dirname, '..', '..', '..', '..', 'jest.preset.cjs'))(__dirname);
const rules = Object.entries(moduleNameMapper).map(([pattern, target]) => [new RegExp(pattern), target]);
const resolve = Module._resolveFilename;
Module._resolveFilename = function fromSource(request, ...rest) {
  for (const [pattern, target] of rules) {
    const match = pattern.exec(request);
    if (match) return target.replace(/\$(\d)/g, (_, i) => match[Number(i)]);
  }
  return resolve.call(this, request, ...rest);
};
