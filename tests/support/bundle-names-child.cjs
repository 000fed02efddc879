'use strict';
// Test helper (bundle-names.ts), run as a child process: `node bundle-names-child.cjs <bundle> <bundle|files> <out.json>`.
// Lists, for every module of a start bundle (scripts/bundle-start.mjs) and of its deferred parts,
// the names of the functions and classes it exports and of their prototypes' methods: as the bundle
// answers a require of the module's file (`bundle`), or as the file itself does (`files`). The
// bundle's code is minified; the names a user sees in errors and stacks must not be.
const fs = require('node:fs');
const path = require('node:path');

const [bundle, mode, out] = process.argv.slice(2);
const dir = path.dirname(bundle);
const base = path.basename(bundle, '.bundle.js');
const texts = [bundle, ...fs.readdirSync(dir).filter((f) => f.startsWith(`${base}-`) && f.endsWith('.bundle.js'))];
// each module is a `"<file>"(exports, module) { ... }` in the bundle or a part: "<package>/<path>"
const files = new Set();
for (const file of texts) {
  const text = fs.readFileSync(path.resolve(dir, file), 'utf8');
  for (const match of text.matchAll(/"([^"]+\.c?js)"\(/g)) files.add(match[1]);
}
if (mode === 'bundle' && !require(path.join(dir, 'start-loader.cjs')).loadStart(bundle)) {
  throw new Error(`${bundle} declined to start`);
}
const workspace = path.resolve(__dirname, '../..');
const names = {};
for (const file of files) {
  const exported = require(path.join(workspace, file));
  const found = {};
  const visit = (value, name) => {
    if (typeof value !== 'function') return;
    found[name] = value.name;
    for (const key of Object.getOwnPropertyNames(value.prototype ?? {})) {
      const method = Object.getOwnPropertyDescriptor(value.prototype, key).value;
      if (typeof method === 'function') found[`${name}#${key}`] = method.name;
    }
  };
  visit(exported, '<module>');
  if (exported && typeof exported === 'object') {
    for (const key of Object.keys(exported)) {
      let value;
      try {
        value = exported[key]; // (a getter, as TypeScript's re-exports are)
      } catch {
        continue;
      }
      visit(value, key);
    }
  }
  names[file] = found;
}
fs.writeFileSync(out, JSON.stringify(names));
