// `npx @pipeline-invocation/tools handler-plugin`: the handler-plugin generator outside this
// repository. Plain JavaScript with no dependencies, so npx runs it as installed. It renders the
// same templates as the Nx generator (src/generators/handler-plugin/files*), then makes the
// package self-contained: its own tsconfig, jest config and build/test tools, any npm scope.
'use strict';
const { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');
const { parseArgs } = require('node:util');

const TEMPLATES = join(__dirname, '..', 'generators', 'handler-plugin');
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const SERVICE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const SCOPE = /^@[a-z0-9][a-z0-9._~-]*$/;

const HELP = `Usage: npx @pipeline-invocation/tools handler-plugin --name <kebab-name> --service <snake_service>
                                   [--scope @your-scope] [--directory DIR] [--classifier]

Scaffold a self-contained handler plugin package for pipeline-invocation, outside any monorepo:
package.json with the pipelineInvocation manifest, a decorated handler with a zod payload schema
(or, with --classifier, a classifier over @pipeline-invocation/post-labelling), tests written
with the testing kit (the conformance check included), README, its own tsconfig and jest config.

  --name        kebab-case; the package is <scope>/handler-<name> (handler-<name> without --scope)
  --service     snake_case service name the handler answers to, e.g. ml_inference_sentiment
  --scope       npm scope of the package, e.g. @acme (default: none)
  --directory   where to write it (default ./handler-<name>); must not exist or be empty
  --classifier  a classifier plugin over the labelling engine (a scoring function to fill in)
  -h, --help    show this help

Then: cd <directory> && npm install && npm test && npx pipeline plugin check .
Exit codes: 0 written, 2 bad options (nothing written).
`;

/** The versions a new package is built against (tools/package.json, checked against the workspace by a test). */
function templateFacts() {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).handlerPluginTemplate;
}

/** PascalCase and camelCase of a kebab-case name (what Nx's names() gives the templates). */
function names(kebab) {
  const className = kebab
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
  return { className, propertyName: className[0].toLowerCase() + className.slice(1) };
}

/** Render every `<%= key %>` of a template; an unknown key is a bug in the template. */
function render(text, values, file) {
  return text.replace(/<%=\s*(\w+)\s*%>/g, (_, key) => {
    if (!(key in values)) throw new Error(`template ${file} uses <%= ${key} %>, which the generator does not provide`);
    return values[key];
  });
}

/** The files of a template folder, relative paths to rendered contents (`.template` dropped). */
function renderFolder(folder, values) {
  const out = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else
        out.set(
          // `_gitignore` becomes `.gitignore` (npm would drop a .gitignore from the tools tarball)
          relative(folder, path)
            .replace(/\.template$/, '')
            .replace(/(^|\/)_gitignore$/, '$1.gitignore'),
          render(readFileSync(path, 'utf8'), values, path),
        );
    }
  };
  walk(folder);
  return out;
}

/** Why the options cannot be used, or undefined. */
function problemWith(options, directory) {
  if (!KEBAB.test(options.name ?? ''))
    return `--name "${options.name ?? ''}" must be kebab-case (lowercase letters and digits, words joined by "-"), e.g. --name sentiment`;
  if (!SERVICE.test(options.service ?? ''))
    return `--service "${options.service ?? ''}" must be snake_case (lowercase letters and digits, words joined by "_"), e.g. --service ml_inference_sentiment`;
  if (options.scope !== undefined && !SCOPE.test(options.scope))
    return `--scope "${options.scope}" must be an npm scope: "@" and lowercase letters, digits, "-", "." or "_", e.g. --scope @acme`;
  if (existsSync(directory) && readdirSync(directory).length > 0)
    return `${directory} exists and is not empty; choose another --directory (or --name)`;
  return undefined;
}

/**
 * The files of a standalone handler package: the Nx generator's templates (plain or classifier),
 * with package.json, tsconfig and jest config of its own.
 */
function standaloneFiles(options) {
  const facts = templateFacts();
  const v = facts.versions;
  const coreVersion = v['@pipeline-invocation/core'];
  const [coreMajor, coreMinor] = coreVersion.split('.');
  const packageName = `${options.scope ? `${options.scope}/` : ''}handler-${options.name}`;
  const { className, propertyName } = names(options.name);
  const values = {
    name: options.name,
    service: options.service,
    packageName,
    className: `${className}Handler`,
    propertyName,
    contractRange: `^${facts.contract.split('.')[0]}.0.0`,
    // a 0.x core: ^0.MINOR.0 (npm's caret keeps to the minor); from 1.0 on: ^MAJOR.0.0
    corePeerRange: coreMajor === '0' ? `^0.${coreMinor}.0` : `^${coreMajor}.0.0`,
    coreVersion,
    invokerVersion: v['@pipeline-invocation/invoker'],
    labellingVersion: v['@pipeline-invocation/post-labelling'],
  };
  const files = renderFolder(join(TEMPLATES, 'files'), values);
  if (options.classifier) {
    files.delete('src/handler.ts');
    for (const [path, content] of renderFolder(join(TEMPLATES, 'files-classifier'), values)) files.set(path, content);
  }
  for (const [path, content] of renderFolder(join(TEMPLATES, 'files-standalone'), values)) files.set(path, content);
  const manifest = JSON.parse(files.get('package.json'));
  delete manifest.nx; // no Nx workspace around it
  manifest.scripts = {
    ...manifest.scripts,
    // the conformance test reads dist; the invoker imports the plugin there with import(), which
    // jest runs only with Node's VM modules
    pretest: 'npm run build',
    test: 'node --experimental-vm-modules node_modules/jest/bin/jest.js',
  };
  manifest.devDependencies = sorted({
    ...manifest.devDependencies,
    '@swc/core': v['@swc/core'],
    '@swc/jest': v['@swc/jest'],
    '@types/jest': v['@types/jest'],
    '@types/node': v['@types/node'],
    jest: v.jest,
    typescript: v.typescript,
  });
  // npm 11 warns about install scripts a project has not reviewed (npm 12 blocks them): the
  // invoker's run store needs better-sqlite3's (its SQLite binding), the SWC test transform
  // @swc/core's; jest's file watcher (@parcel/watcher) is prebuilt and need not run its own
  manifest.allowScripts = { '@parcel/watcher': false, '@swc/core': true, 'better-sqlite3': true };
  files.set('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
  return { packageName, files };
}

function sorted(record) {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Run the generator with command-line arguments. Returns the exit code; writes results to `out`
 * and errors to `err`.
 */
function main(
  argv,
  io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), cwd: process.cwd() },
) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        service: { type: 'string' },
        scope: { type: 'string' },
        directory: { type: 'string' },
        classifier: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`pipeline-tools: ${error.message}\nRun \`npx @pipeline-invocation/tools handler-plugin --help\`.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) return (io.out(HELP), 0);
  if (positionals.length !== 1 || positionals[0] !== 'handler-plugin') {
    io.err(
      `pipeline-tools: unknown generator "${positionals.join(' ')}": the one generator is handler-plugin.\n` +
        'Run `npx @pipeline-invocation/tools handler-plugin --help`.\n',
    );
    return 2;
  }
  const directory = resolve(io.cwd, values.directory ?? `handler-${values.name ?? ''}`);
  const problem = problemWith(values, directory);
  if (problem) {
    io.err(`pipeline-tools handler-plugin: ${problem}. Nothing was written.\n`);
    return 2;
  }
  const { packageName, files } = standaloneFiles(values);
  for (const [path, content] of files) {
    mkdirSync(join(directory, path, '..'), { recursive: true });
    writeFileSync(join(directory, path), content);
  }
  io.out(
    `Created ${packageName} in ${directory} (${files.size} files).\n` +
      `Next: cd ${relative(io.cwd, directory) || '.'} && npm install && npm test && npx pipeline plugin check .\n`,
  );
  return 0;
}

module.exports = { main, standaloneFiles, HELP };
