'use strict';
// zod, re-exported by core's index and loaded on first use: importing core (a plugin, the CLI's
// start, the Lambda entry) does not run zod's module bodies. Written by hand, beside its typings
// (lazy-zod.d.cts: the whole `z`, value and namespace, which a TypeScript getter cannot declare),
// and copied into dist by the build. The getter is in the form Node's CommonJS export detection
// reads, so ES modules import `z` by name.
Object.defineProperty(exports, '__esModule', { value: true });
Object.defineProperty(exports, 'z', {
  enumerable: true,
  get: function () {
    return require('zod').z;
  },
});
