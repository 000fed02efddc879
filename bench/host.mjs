// A host project for the benches that run the CLI: one installed no-op plugin (service `noop`)
// and our packages linked from the workspace, in a temporary directory.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root. */
export const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The `pipeline` CLI. */
export const cli = join(workspace, 'packages/invoker/bin/pipeline.js');

/** Make the host project (`prefix` names its directory); returns its root. */
export function noopHostProject(prefix) {
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
    symlinkSync(join(workspace, 'packages', ours), join(root, 'node_modules/@pipeline-invocation', ours), 'dir');
  }
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'bench-host', dependencies: { 'noop-plugin': '1.0.0' } }),
  );
  return root;
}
