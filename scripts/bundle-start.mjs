#!/usr/bin/env node
// Builds a package's start path into one file, so a cold start reads, resolves and compiles one
// file instead of ~250 (the `pipeline` CLI: ~100 ms less; see bench/cold-start.bench.mjs).
// Run by a package's build after tsc, from the package folder:
//
//   node ../../scripts/bundle-start.mjs <entry in dist> <bundle in dist>
//
// It bundles the compiled entry with our packages and the small libraries they load at start
// (zod, tsyringe, pino, semver, better-sqlite3's JavaScript, ...); everything else (the AWS SDK,
// W&B, OpenTelemetry's SDK, BullMQ, native builds) stays a real require, resolved from the package
// that asked for it.
//
// The bundle keeps every module's identity. Before anything runs, each bundled module is put in
// Node's require cache under the file it came from (in the installed tree, found as Node would
// find it), its exports made on first use. So a plugin that requires @pipeline-invocation/core, or
// tsyringe, gets the very instance the CLI uses, not a second copy. When the installed tree is
// not the one the bundle was built from (another version of a package, or one of our packages
// rebuilt since), the bundle declines and the caller starts from the unbundled files
// (scripts/start-loader.cjs does both).
import { parse, tokenizer } from 'acorn';
import { build, transform } from 'esbuild';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [entryArg, outArg] = process.argv.slice(2);
if (!entryArg || !outArg) {
  console.error('usage: node scripts/bundle-start.mjs <entry in dist> <bundle in dist> (from a package folder)');
  process.exit(2);
}
const packageDir = process.cwd();
const entry = resolve(packageDir, entryArg);
const out = resolve(packageDir, outArg);

/**
 * Packages bundled: ours on the start path, and the libraries they load at start. Not the
 * optional ones found at run time (the worker, the dashboard): the CLI must start without them.
 */
const BUNDLED = new Set([
  '@pipeline-invocation/core',
  '@pipeline-invocation/storage',
  '@pipeline-invocation/observability',
  '@pipeline-invocation/invoker',
  'zod',
  'tsyringe',
  'reflect-metadata',
  'tslib',
  'semver',
  'pino',
  'pino-std-serializers',
  '@pinojs/redact',
  'sonic-boom',
  'thread-stream',
  'safe-stable-stringify',
  'quick-format-unescaped',
  'on-exit-leak-free',
  'atomic-sleep',
  'real-require',
  'process-warning',
  // its JavaScript (a dozen small files); its native build stays a file, loaded by path
  'better-sqlite3',
]);
/**
 * Bundled packages whose modules a start rarely runs (nothing on `pipeline invoke`'s or the Lambda
 * entry's path runs them unless a plugin does): each goes to a file of its own beside the bundle,
 * `<bundle>-<package>.bundle.js`, read and compiled the first time one of its modules is required.
 * zod is 45 % of a bundle: compiling it at every start cost a new Lambda environment ~6 ms.
 */
const DEFERRED = new Set(['zod', 'semver']);
const EXTERNAL = 'pipeline-start-external:';
/** better-sqlite3's module that loads its native build. */
const BETTER_SQLITE3 = /[\\/]node_modules[\\/]better-sqlite3[\\/]lib[\\/]database\.js$/;
/** zod's index of its translations (v4): only English, which zod's schemas load, is bundled. */
const ZOD_LOCALES = /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.c?js$/;
/** Workspace-relative keys are esbuild's paths; they use "/" on every platform. */
const key = (file) => relative(workspace, file).split(sep).join('/');
/**
 * Whether a file has an import() of something other than a plain string (a string one is
 * bundled like a require), comments aside; such a file stays out of the bundle.
 */
const DYNAMIC_IMPORT = /\bimport\((?!\s*(['"])[^'"`$]*\1\s*\))/;
const withoutComments = (text) => text.replace(/^\s*\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
const usesImport = (file) => /\.c?js$/.test(file) && DYNAMIC_IMPORT.test(withoutComments(readFileSync(file, 'utf8')));
const buildInfoSum = (data) => `${data.length}:${crc32(data)}`;
const packageName = (spec) => spec.split('/', spec.startsWith('@') ? 2 : 1).join('/');

/** The package folder (key) holding `file`, found as the nearest package.json with a name. */
const packageOfFile = new Map();
function packageOf(file) {
  for (let dir = dirname(file); dir.startsWith(workspace); dir = dirname(dir)) {
    if (packageOfFile.has(dir)) return packageOfFile.get(dir);
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name) {
      packageOfFile.set(dir, key(dir));
      return key(dir);
    }
  }
  throw new Error(`no package.json above ${file}`);
}

/**
 * `code` with its local names minified: ~25 % less text to read and compile at each start (~4 ms of
 * a new Lambda environment's import). Functions and classes keep their names at run time: the
 * build's keepNames gave each its name (esbuild's __name), which the minified code still calls.
 */
const minify = async (code) =>
  (
    await transform(code, {
      minifyIdentifiers: true,
      minifyWhitespace: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
    })
  ).code;

/** Files left outside the bundle (they use import()), as the build found them. */
const outside = new Set();

/**
 * The bundle's entry: the real entry, and (never called, but bundled) what the files left outside
 * the bundle require, so those find their modules in it too.
 */
function stubEntry() {
  const kept = new Set();
  const visit = (file, seen) => {
    if (seen.has(file)) return;
    seen.add(file);
    const req = createRequire(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/\brequire\(["']([^"']+)["']\)/g)) {
      if (isBuiltin(spec) || (!spec.startsWith('.') && !BUNDLED.has(packageName(spec)))) continue;
      let target;
      try {
        target = req.resolve(spec);
      } catch {
        continue; // an optional package that is not there: required (and missed) at run time
      }
      if (usesImport(target)) visit(target, seen);
      else kept.add(target);
    }
  };
  const seen = new Set();
  for (const file of outside) visit(file, seen);
  const keep = [...kept].map((f) => `require(${JSON.stringify(f)})`).join(', ');
  return `module.exports = require(${JSON.stringify(entry)});\nObject.defineProperty(module.exports, '__startKept', { value: () => [${keep}] });\n`;
}

const bundle = () =>
  build({
    // a stub entry, so the real one is a module of its own (put in the cache like the others)
    stdin: { contents: stubEntry(), resolveDir: packageDir, loader: 'js' },
    absWorkingDir: workspace,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    mainFields: ['main'], // the CommonJS build of each package, as an unbundled require loads
    conditions: [], // not esbuild's default "module" condition, which picks ES builds
    target: 'node20',
    keepNames: true, // error and handler classes keep their names (also once names are minified: see `minify`)
    minifyWhitespace: true, // a smaller file to read at each start
    write: false,
    metafile: true,
    outfile: out,
    logLevel: 'warning',
    logOverride: { 'require-resolve-not-external': 'silent' },
    plugins: [
      {
        name: 'start-path',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.importer === '<stdin>' || !args.importer) return undefined;
            if (isBuiltin(args.path)) return { path: args.path, external: true };
            const bare = !args.path.startsWith('.') && !args.path.startsWith('/');
            const from = packageOf(args.importer);
            // resolved at run time from the package that asked, as an unbundled require would be
            if (bare && !BUNDLED.has(packageName(args.path)))
              return { path: `${EXTERNAL}${from}:${args.path}`, external: true };
            const file = createRequire(args.importer).resolve(args.path);
            // zod's translations but English: required from their own files when first asked for
            // (z.locales.fr()), not read and compiled with the bundle at every start (a third of it)
            if (ZOD_LOCALES.test(args.importer) && !/[\\/]en\.c?js$/.test(file)) {
              const pkg = packageOf(file);
              return {
                path: `${EXTERNAL}${pkg}:./${relative(join(workspace, pkg), file).split(sep).join('/')}`,
                external: true,
              };
            }
            if (!usesImport(file)) return undefined;
            // a module with import() is required from its own file: vm-compiled code cannot import()
            // on Node 20 once it comes from a code cache; its requires still find the bundle's modules
            const pkg = packageOf(file);
            outside.add(file);
            return {
              path: `${EXTERNAL}${pkg}:./${relative(join(workspace, pkg), file).split(sep).join('/')}`,
              external: true,
            };
          });
          // zod's list of translations, each required when it is first asked for
          b.onLoad({ filter: ZOD_LOCALES }, (args) => {
            const text = readFileSync(args.path, 'utf8');
            let lazy = 0;
            const contents = text.replace(
              /var (\w+) = require\(("[^"]+")\);\s*Object\.defineProperty\(exports, ("\w+"), \{ enumerable: true, get: function \(\) \{ return __importDefault\(\1\)\.default; \} \}\);/g,
              (_, _name, spec, key) => {
                lazy += 1;
                // (not configurable, as a getter of zod's own would be without the `= void 0` line
                // before it: the loop at the end that turns getters into values leaves it lazy)
                return `delete exports[${key}]; Object.defineProperty(exports, ${key}, { enumerable: true, get: function () { return __importDefault(require(${spec})).default; } });`;
              },
            );
            if (
              /\brequire\(/.test(
                contents.replace(/get: function \(\) \{ return __importDefault\(require\("[^"]+"\)\)/g, ''),
              ) ||
              lazy < 10
            )
              throw new Error(
                `bundle-start: ${key(args.path)} is not in the expected shape (zod changed): update bundle-start.mjs`,
              );
            return { contents, loader: 'js' };
          });
          // a module's own folder, where it reads files beside it (W&B's worker, pino's transports)
          b.onLoad({ filter: /\.(c?js)$/ }, (args) => {
            let text = readFileSync(args.path, 'utf8');
            if (BETTER_SQLITE3.test(args.path)) {
              // `bindings` finds the native build from its caller's file, the bundle here: give it
              // better-sqlite3's own folder, where it would have looked from the unbundled file
              const call = "require('bindings')('better_sqlite3.node')";
              if (!text.includes(call))
                throw new Error(`bundle-start: ${key(args.path)} changed: update bundle-start.mjs`);
              text = text.replace(
                call,
                "require('bindings')({ bindings: 'better_sqlite3.node', module_root: require('path').dirname(__dirname) })",
              );
            }
            if (!/__dirname|__filename/.test(text))
              return BETTER_SQLITE3.test(args.path) ? { contents: text, loader: 'js' } : undefined;
            const pkg = packageOf(args.path);
            const inside = JSON.stringify(key(args.path).slice(pkg.length + 1));
            return {
              contents: `var __filename = __startFile(${JSON.stringify(pkg)}, ${inside}), __dirname = require("node:path").dirname(__filename);\n${text}`,
              loader: 'js',
            };
          });
        },
      },
    ],
  });

await bundle(); // finds the files left outside
const result = await bundle(); // with what they require
let text = result.outputFiles[0].text;
/** The bundle's text parsed: its statements, with their offsets in the text. */
const parseBundle = (code) =>
  parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true });
/**
 * A top-level `var <init> = <helper>({ "<file>"(exports, module) { ... } })`: esbuild's CommonJS
 * module (its names minified), as { init, file }; else undefined.
 */
function commonJsModule(node) {
  if (node.type !== 'VariableDeclaration' || node.declarations.length !== 1) return undefined;
  const decl = node.declarations[0];
  const call = decl.init?.type === 'CallExpression' ? decl.init : undefined;
  const table =
    call?.arguments.length === 1 && call.arguments[0].type === 'ObjectExpression' ? call.arguments[0] : undefined;
  const entry = table?.properties.length === 1 ? table.properties[0] : undefined;
  if (!entry || entry.key.type !== 'Literal' || typeof entry.key.value !== 'string') return undefined;
  if (entry.value.type !== 'FunctionExpression' || !/\.(c?js|json)$/.test(entry.key.value)) return undefined;
  return { init: decl.id.name, file: entry.key.value };
}
// Every CommonJS module of the bundle: its init function and the file it came from.
const modules = parseBundle(text).body.map(commonJsModule).filter(Boolean);
// the stub entry's `module.exports = <init of the real entry>();`
const entryCall = parseBundle(text)
  .body.filter(
    (node) =>
      node.type === 'ExpressionStatement' &&
      node.expression.type === 'AssignmentExpression' &&
      text.slice(node.expression.left.start, node.expression.left.end) === 'module.exports' &&
      node.expression.right.type === 'CallExpression' &&
      node.expression.right.arguments.length === 0 &&
      modules.some((m) => m.init === node.expression.right.callee.name),
  )
  .map((node) => [text.slice(node.start, node.end), node.expression.right.callee.name])[0];
if (!entryCall || !modules.length) throw new Error('bundle-start: esbuild output not in the expected shape');
const inputs = Object.keys(result.metafile.inputs).filter((f) => /\.(c?js|json)$/.test(f));
const missing = inputs.filter((f) => !f.endsWith('.json') && !modules.some((m) => m.file === f));
if (missing.length) throw new Error(`bundle-start: not CommonJS modules, cannot be shared: ${missing.join(', ')}`);

// The packages in the bundle, each found at run time from the package that first imported it.
const packages = new Map();
const self = packageOf(entry);
const describePackage = (pkg, importer) => {
  const manifest = JSON.parse(readFileSync(join(workspace, pkg, 'package.json'), 'utf8'));
  const buildInfo = join(workspace, pkg, 'dist', '.tsbuildinfo');
  return {
    key: pkg,
    name: manifest.name,
    version: manifest.version,
    importer,
    // our packages in a workspace: a rebuild since the bundle makes it stale (by content: nx
    // restores a cached build with new file times)
    // (length and CRC-32, as start-runtime.cjs checks them: zlib loads faster than crypto)
    buildInfo: pkg.startsWith('packages/') && existsSync(buildInfo) ? buildInfoSum(readFileSync(buildInfo)) : undefined,
  };
};
const addPackage = (pkg, importer) => {
  if (!packages.has(pkg) && pkg !== self) packages.set(pkg, describePackage(pkg, importer));
};
const queue = [entry];
const seen = new Set();
while (queue.length) {
  const file = key(queue.shift());
  if (seen.has(file)) continue;
  seen.add(file);
  const from = packageOf(join(workspace, file));
  for (const imp of result.metafile.inputs[file]?.imports ?? []) {
    if (imp.external) continue;
    const to = packageOf(join(workspace, imp.path));
    if (to !== from) addPackage(to, from);
    queue.push(join(workspace, imp.path));
  }
}

text = text
  .replace(entryCall[0], '')
  .replaceAll(`require("${EXTERNAL}`, '__startRequire("')
  // a string import() of a file left outside: our CommonJS files, so require gives its exports
  .replaceAll(
    /\bimport\("(pipeline-start-external:[^"]+)"\)/g,
    (_, spec) => `Promise.resolve().then(() => __startRequire("${spec.slice(EXTERNAL.length)}"))`,
  );
if (/\bimport\(/.test(withoutComments(text))) throw new Error('bundle-start: an import() was bundled');

// The DEFERRED packages' modules move to files of their own (see DEFERRED). Each such file is one
// function taking the bundle's names its modules use (esbuild's helpers, other modules' inits) and
// answering its modules' inits by file; in the bundle, each moved module's init becomes a stub that
// loads that file (once: start-runtime.cjs, __startDeferred) and calls the real one. Modules keep
// their identity: a require of a moved module's file still gets the one instance.
const deferredFiles = [];
{
  const ast = parseBundle(text);
  const topLevel = new Set();
  for (const node of ast.body) {
    if (node.type === 'VariableDeclaration') for (const d of node.declarations) topLevel.add(d.id.name);
    if (node.type === 'FunctionDeclaration') topLevel.add(node.id.name);
  }
  const groups = new Map();
  for (const node of ast.body) {
    const found = commonJsModule(node);
    if (!found) continue;
    const pkg = packageOf(join(workspace, found.file));
    const name = JSON.parse(readFileSync(join(workspace, pkg, 'package.json'), 'utf8')).name;
    if (!DEFERRED.has(name)) continue;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push({ ...found, start: node.start, end: node.end });
  }
  const cuts = [];
  for (const [name, group] of groups) {
    const code = group.map((m) => text.slice(m.start, m.end)).join('\n');
    const own = new Set(group.map((m) => m.init));
    // The names its code uses that the bundle's scope gave it: the bundle's top-level names
    // (esbuild's helpers, other modules' inits), the runtime's (__start*) and the wrapper's
    // `require`. (A name the code also binds itself only costs an unused argument.)
    const names = new Set();
    let previous;
    for (const token of tokenizer(code, { ecmaVersion: 'latest' })) {
      if (token.type.label === 'name' && previous?.type.label !== '.' && previous?.type.label !== '?.')
        names.add(token.value);
      previous = token;
    }
    const used = [...names].filter(
      (id) => !own.has(id) && (topLevel.has(id) || /^__start[A-Z]/.test(id) || id === 'require'),
    );
    const exportsTable = group.map((m) => `${JSON.stringify(m.file)}: ${m.init}`).join(',\n');
    const body = await minify(`(function (${used.join(', ')}) {\n${code}\nreturn {\n${exportsTable}\n};\n})`);
    const id = createHash('sha256').update(body).digest('hex').slice(0, 16);
    const fileName = `${basename(out, '.bundle.js')}-${name.replace(/^@/, '').replace(/\//g, '-')}.bundle.js`;
    deferredFiles.push({ fileName, text: `// start-bundle ${id}\n${body}\n`, name, modules: group.length });
    const load = `__startDeferred(${JSON.stringify(fileName)}, ${JSON.stringify(id)}, function (fn) { return fn(${used.join(', ')}); })`;
    cuts.push(
      ...group.map((m, i) => ({
        start: m.start,
        end: m.end,
        // the group's loader once, then each module's stub
        text: `${i === 0 ? `var __startGroup_${id} = ${load};` : ''}var ${m.init} = __startGroup_${id}(${JSON.stringify(m.file)});`,
      })),
    );
  }
  // the stubs of a group use its loader: the first module's position may come after others'
  cuts.sort((a, b) => b.start - a.start);
  for (const cut of cuts) text = text.slice(0, cut.start) + cut.text + text.slice(cut.end);
}
const manifest = {
  self: {
    ...describePackage(self),
    fromBundle: relative(dirname(out), join(workspace, self)).split(sep).join('/') || '.',
  },
  packages: [...packages.values()],
};
// by package folder, then path inside it: the run time finds each module's installed file without a search
const byPackage = new Map();
for (const m of modules) {
  const pkg = packageOf(join(workspace, m.file));
  if (!byPackage.has(pkg)) byPackage.set(pkg, []);
  byPackage.get(pkg).push(`${JSON.stringify(m.file.slice(pkg.length + 1))}: ${m.init}`);
}
const table = [...byPackage]
  .map(([pkg, inits]) => `  ${JSON.stringify(pkg)}: {\n    ${inits.join(',\n    ')},\n  },`)
  .join('\n');
text += `
// The start path's modules, by the file each came from (scripts/bundle-start.mjs).
module.exports = __pipelineStart(
  {\n${table}\n  },
  ${JSON.stringify(manifest)},
  ${entryCall[1]},
);
`;
text = await minify(text);
const runtime = readFileSync(join(workspace, 'scripts/start-runtime.cjs'), 'utf8');
text = text.replace(/^("use strict";\n)?/, (strict) => `${strict}${runtime}\n`);
// the loader keys its code cache by this hash (V8 itself only checks a cache's length)
writeFileSync(out, `// start-bundle ${createHash('sha256').update(text).digest('hex').slice(0, 16)}\n${text}`);
for (const deferred of deferredFiles) writeFileSync(join(dirname(out), deferred.fileName), deferred.text);
// the loader the package's entry uses, beside the bundle, and the pruning of its cache folder it loads
for (const name of ['start-loader.cjs', 'start-cache-prune.cjs']) {
  copyFileSync(join(workspace, 'scripts', name), join(dirname(out), name));
}
console.log(
  `bundle-start: ${relative(packageDir, out)}: ${modules.length} modules of ${packages.size + 1} packages, ${(text.length / 1024).toFixed(0)} KiB`,
);
for (const deferred of deferredFiles)
  console.log(
    `bundle-start: ${deferred.fileName}: ${deferred.name}'s ${deferred.modules} modules, compiled when first required, ${(deferred.text.length / 1024).toFixed(0)} KiB`,
  );
