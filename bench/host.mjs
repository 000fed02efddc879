// A host project for the benches that run the CLI: one installed no-op plugin (service `noop`)
// and our packages linked from the workspace, in a temporary directory; or, for the Lambda entry,
// laid out as a deployed function's is (our packages as npm installs them).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root. */
export const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The `pipeline` CLI. */
export const cli = join(workspace, 'packages/invoker/bin/pipeline.js');

/** Make the host project (`prefix` names its directory); returns its root. */
export function noopHostProject(prefix, { deployed = false } = {}) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const plugin = join(root, 'node_modules', 'noop-plugin');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(
    join(plugin, 'package.json'),
    JSON.stringify({
      name: 'noop-plugin',
      version: '1.0.0',
      main: 'index.js',
      pipelineInvocation: { contract: '^1.0.0', services: ['noop'] },
    }),
  );
  writeFileSync(
    join(plugin, 'index.js'),
    "const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');\n" +
      "class Noop { handle() { return { statusCode: 200, body: 'ok' }; } }\n" +
      "pipelineHandler('noop')(Noop);\nmodule.exports = { default: definePlugin({ handlers: [Noop] }) };\n",
  );
  mkdirSync(join(root, 'node_modules/@pipeline-invocation'), { recursive: true });
  for (const ours of ['core', 'storage', 'observability', 'invoker', 'worker']) {
    const target = join(root, 'node_modules/@pipeline-invocation', ours);
    if (deployed) installPacked(join(workspace, 'packages', ours), target);
    else symlinkSync(join(workspace, 'packages', ours), target, 'dir');
  }
  if (deployed) {
    // the libraries, linked from the workspace's install
    for (const entry of readdirSync(join(workspace, 'node_modules'))) {
      if (entry.startsWith('.') || entry === '@pipeline-invocation' || entry === 'noop-plugin') continue;
      symlinkSync(join(workspace, 'node_modules', entry), join(root, 'node_modules', entry), 'dir');
    }
  }
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'bench-host', dependencies: { 'noop-plugin': '1.0.0' } }),
  );
  return root;
}

/**
 * Copy the files `npm pack` would publish of the package at `dir` to `target`: what an install
 * from the registry puts there (no build info, no tests), as in a deployed Lambda function.
 */
function installPacked(dir, target) {
  const [{ files }] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  for (const { path } of files) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    cpSync(join(dir, path), join(target, path));
  }
  // its own versions of libraries the workspace's install keeps apart (npm nests them as here)
  if (existsSync(join(dir, 'node_modules'))) {
    mkdirSync(join(target, 'node_modules'));
    for (const entry of readdirSync(join(dir, 'node_modules'))) {
      if (!entry.startsWith('.'))
        symlinkSync(join(dir, 'node_modules', entry), join(target, 'node_modules', entry), 'dir');
    }
  }
}
