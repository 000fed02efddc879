#!/usr/bin/env node
// Publish-then-install proof: start verdaccio on 127.0.0.1 (no uplinks, temporary storage),
// publish every package to it, then in a fresh consumer project outside the workspace install
// only the invoker and the Perspective handler and check `pipeline list` / `pipeline invoke`;
// install a generated handler (it appears), uninstall it (it is gone); install a handler whose
// contract range excludes the current core (a clear refusal). Our scope comes from verdaccio,
// everything else from the usual registry. The registry is stopped and the folders removed
// even when a step fails. Prints one line per step and `e2e: N passed, N failed`.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPackage } from './check-packed-maps.mjs';

const workspace = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const PACKAGES = [
  'core',
  'storage',
  'observability',
  'invoker',
  'worker',
  'post-labelling',
  'handler-perspective-api',
  'handler-openai-moderation',
  'handler-python',
];
const temp = mkdtempSync(join(tmpdir(), 'e2e-publish-'));
const results = [];
let registry;

const step = async (name, fn) => {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push([name, false]);
    console.log(
      `not ok - ${name}\n  ${String(error.stderr || error.message)
        .trim()
        .split('\n')
        .slice(-8)
        .join('\n  ')}`,
    );
    throw error;
  }
};

// (the consumers' `pipeline` keeps its code cache in this run's folder, not in the user's
// ~/.cache, and it goes with the folder)
const run = (cwd, command, args, env = {}) =>
  execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PIPELINE_CACHE_DIR: join(temp, 'pipeline-cache'), ...env },
  });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * fetch, tried again on a network error: undici reuses kept-alive sockets that verdaccio may have
 * closed meanwhile (its keep-alive is shorter than a round of npm publish), which fails a request
 * with "fetch failed" although the registry is up.
 */
async function registryFetch(url, init) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (attempt === 3) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function startRegistry() {
  const dir = join(workspace, 'scripts/e2e-registry');
  if (!existsSync(join(dir, 'node_modules/verdaccio')))
    run(dir, 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(temp, 'verdaccio.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(temp, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(temp, 'htpasswd')}`,
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'log: { type: stdout, format: pretty, level: error }',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [join(dir, 'node_modules/verdaccio/bin/verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/-/ping`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const response = await registryFetch(`${url}/-/user/org.couchdb.user:e2e`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e', password: 'e2e-password' }),
  });
  const { token } = await response.json();
  if (!token) throw new Error(`verdaccio did not register the publishing user (HTTP ${response.status})`);
  const npmrc = join(temp, '.npmrc');
  const host = url.replace(/^http:/, '');
  // Keep the user's own npm settings (e.g. nodedir for native builds) and add the scope and token.
  const userConfig = run(workspace, 'npm', ['config', 'get', 'userconfig']).trim();
  const inherited = existsSync(userConfig) ? `${readFileSync(userConfig, 'utf8')}\n` : '';
  writeFileSync(npmrc, `${inherited}@pipeline-invocation:registry=${url}/\n${host}/:_authToken=${token}\n`);
  return { url, npmrc, stop: () => child.kill('SIGTERM') };
}

/** npm with our scope on verdaccio (and the user's registry for the rest). */
const npm = (cwd, args) =>
  run(cwd, 'npm', [...args, '--userconfig', registry.npmrc, '--no-audit', '--no-fund', '--loglevel=error']);
const pipeline = (consumer, args) =>
  JSON.parse(run(consumer, join(consumer, 'node_modules/.bin/pipeline'), args, { LOG_LEVEL: 'warn' }));

/** Generate a handler package with the workspace's generator, into a folder outside the workspace, and build it. */
async function generatedHandler(name, service, edit = (manifest) => manifest) {
  const { FsTree, flushChanges } = require('nx/src/generators/tree');
  const root = join(temp, `gen-${name}`);
  for (const file of [
    'tsconfig.base.json',
    'jest.preset.cjs',
    'package.json',
    'packages/core/package.json',
    'packages/core/src/version.ts',
    'packages/invoker/package.json',
  ]) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    cpSync(join(workspace, file), join(root, file));
  }
  symlinkSync(join(workspace, 'node_modules'), join(root, 'node_modules'));
  const tree = new FsTree(root, false);
  require('@swc-node/register'); // the generator is TypeScript, as Nx loads it
  const { default: generate } = require('../tools/src/generators/handler-plugin/generator.ts');
  await generate(tree, { name, service });
  flushChanges(root, tree.listChanges());
  const dir = join(root, 'packages', `handler-${name}`);
  const manifest = edit(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  run(dir, process.execPath, [join(workspace, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.lib.json']);
  return dir;
}

let exitCode = 0;
try {
  await step('start verdaccio on 127.0.0.1 with no uplinks', async () => {
    registry = await startRegistry();
  });
  await step(`publish ${PACKAGES.length} packages`, async () => {
    for (const pkg of PACKAGES) npm(join(workspace, 'packages', pkg), ['publish', '--registry', `${registry.url}/`]);
    const published = await (await registryFetch(`${registry.url}/@pipeline-invocation%2finvoker`)).json();
    if (!published.versions?.['0.1.0']) throw new Error('the invoker is not in the registry');
  });
  const consumer = join(temp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await step('a fresh project installs only the invoker and the Perspective handler', async () => {
    npm(consumer, [
      'install',
      '@pipeline-invocation/invoker@0.1.0',
      '@pipeline-invocation/handler-perspective-api@0.1.0',
    ]);
  });
  await step(
    "pipeline list shows exactly the installed handler's services, and an invocation records a run",
    async () => {
      const services = pipeline(consumer, ['list', '--json']).map((s) => s.service);
      if (JSON.stringify(services) !== '["ml_inference_perspective_api"]')
        throw new Error(`pipeline list showed ${services}`);
      const record = pipeline(consumer, [
        'invoke',
        'ml_inference_perspective_api',
        '--payload',
        '{"run_type":"prod"}',
        '--json',
      ]);
      if (record.status !== 'SUCCEEDED') throw new Error(`the run was ${record.status}`);
      const runs = pipeline(consumer, ['runs', '--json']).items.map((r) => r.run_id);
      if (!runs.includes(record.run_id)) throw new Error('the run is not in the run store');
    },
  );
  const tarballs = join(temp, 'tarballs');
  mkdirSync(tarballs);
  await step(
    'npm pack: tarballs carry no .tsbuildinfo, and every source map names only files in its tarball',
    async () => {
      for (const pkg of PACKAGES) {
        const dir = join(workspace, 'packages', pkg);
        const [packed] = JSON.parse(
          run(dir, 'npm', ['pack', '--json', '--pack-destination', tarballs, '--loglevel=error']),
        );
        const stray = packed.files.map((f) => f.path).filter((f) => f.endsWith('.tsbuildinfo'));
        if (stray.length) throw new Error(`${pkg} packs ${stray.join(', ')}`);
        // the maps (.js.map, .d.ts.map) name src/*.ts, which the tarball carries (scripts/check-packed-maps.mjs)
        const { problems } = checkPackage(dir);
        if (problems.length) throw new Error(problems.join('\n'));
      }
    },
  );
  await step('a fresh project installs only the invoker and the Perspective handler from tarballs', async () => {
    const project = join(temp, 'from-tarballs');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'from-tarballs', private: true }));
    const tgz = (pkg) => join(tarballs, `pipeline-invocation-${pkg}-0.1.0.tgz`);
    // the README's commands; our scope is not on the public registry, so nothing of ours may be fetched
    run(project, 'npm', [
      'install',
      ...['core', 'storage', 'observability', 'invoker', 'post-labelling', 'handler-perspective-api'].map(tgz),
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ]);
    const services = pipeline(project, ['list', '--json']).map((s) => s.service);
    if (JSON.stringify(services) !== '["ml_inference_perspective_api"]')
      throw new Error(`pipeline list showed ${services}`);
    if (existsSync(join(project, 'node_modules/@pipeline-invocation/worker')))
      throw new Error('the worker was installed although nobody asked for it');
  });
  await step('a generated handler, published and installed, appears; uninstalled, it is gone', async () => {
    const dir = await generatedHandler('e2e-demo', 'e2e_demo_service');
    npm(dir, ['publish', '--registry', `${registry.url}/`]);
    npm(consumer, ['install', '@pipeline-invocation/handler-e2e-demo@0.1.0']);
    let services = pipeline(consumer, ['list', '--json']).map((s) => s.service);
    if (!services.includes('e2e_demo_service')) throw new Error(`after install, pipeline list showed ${services}`);
    const record = pipeline(consumer, [
      'invoke',
      'e2e_demo_service',
      '--payload',
      '{"run_type":"prod","items":["a"]}',
      '--json',
    ]);
    if (record.body !== 'Processed 1 item(s)') throw new Error(`the generated handler answered ${record.body}`);
    npm(consumer, ['uninstall', '@pipeline-invocation/handler-e2e-demo']);
    services = pipeline(consumer, ['list', '--json']).map((s) => s.service);
    if (services.includes('e2e_demo_service')) throw new Error('after uninstall, the service is still listed');
  });
  await step('a handler whose contract range excludes the current core is refused clearly', async () => {
    const dir = await generatedHandler('e2e-future', 'e2e_future_service', (m) => ({
      ...m,
      pipelineInvocation: { ...m.pipelineInvocation, contract: '^2.0.0' },
    }));
    npm(dir, ['publish', '--registry', `${registry.url}/`]);
    npm(consumer, ['install', '@pipeline-invocation/handler-e2e-future@0.1.0']);
    try {
      run(consumer, join(consumer, 'node_modules/.bin/pipeline'), ['invoke', 'e2e_future_service'], {
        LOG_LEVEL: 'warn',
      });
      throw new Error('the incompatible handler was run');
    } catch (error) {
      if (
        error.status !== 5 ||
        !String(error.stderr).includes('supports contract ^2.0.0, but this host implements contract 1.0.0')
      ) {
        throw new Error(
          `expected exit 5 naming both contract versions, got exit ${error.status}: ${error.stderr ?? error.message}`,
          { cause: error },
        );
      }
    }
  });
} catch {
  exitCode = 1;
} finally {
  registry?.stop();
  rmSync(temp, { recursive: true, force: true });
  const passed = results.filter(([, ok]) => ok).length;
  console.log(`e2e: ${passed} passed, ${results.length - passed} failed`);
}
process.exit(exitCode);
