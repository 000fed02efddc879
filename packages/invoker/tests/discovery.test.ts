import { definePlugin, pipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '../src/testing';
import { createInvoker, discoverPlugins, findHostRoot } from '../src';
import { silentLogger } from '@pipeline-invocation/observability';
import { cjsPlugin, createHostProject, type FixturePlugin } from './helpers/host-project';
import { join } from 'node:path';

const broken: FixturePlugin = {
  name: 'broken-plugin',
  manifest: { contract: '^1.0.0', services: ['broken_service'] },
  files: { 'index.js': "throw new Error('syntax or import failure inside the plugin');" },
  packageJson: { main: 'index.js' },
};
const future: FixturePlugin = cjsPlugin('future-plugin', ['future_service'], {
  manifest: { contract: '^2.0.0', services: ['future_service'] },
});
const unbranded: FixturePlugin = {
  name: 'unbranded-plugin',
  manifest: { contract: '^1.0.0', services: ['unbranded_service'] },
  files: { 'index.js': 'module.exports = { handlers: [] };' },
  packageJson: { main: 'index.js' },
};
const liar: FixturePlugin = cjsPlugin('liar-plugin', ['real_service'], {
  manifest: { contract: '^1.0.0', services: ['real_service', 'promised_service'] },
});

const root = createHostProject([
  cjsPlugin('@acme/plugin-a', ['alpha', 'beta']),
  cjsPlugin('plugin-dup-1', ['dup_service']),
  cjsPlugin('plugin-dup-2', ['dup_service']),
  cjsPlugin('undeclared-plugin', ['sneaky_service'], { declared: false }),
  { name: 'plain-dependency', files: { 'index.js': 'throw new Error("never load me")' } },
  { name: 'bad-manifest', manifest: { contract: 1, services: 'x' }, files: {} },
  broken,
  future,
  unbranded,
  liar,
]);

const unusableHost = createHostProject([cjsPlugin('installed-plugin', ['installed_service'])]);

function invoker(options: Parameters<typeof createInvoker>[0] = {}) {
  const { store } = createTestInvoker();
  return createInvoker({
    root,
    store,
    outbox: false,
    logger: silentLogger,
    env: {},
    storeRetryDelaysMs: [],
    ...options,
  });
}

describe('discoverPlugins', () => {
  it('finds the declared dependencies with a manifest, and nothing else', () => {
    const found = discoverPlugins({ root });
    expect(found.hostPackageJson).toBe(join(root, 'package.json'));
    expect(found.plugins.map((p) => p.packageName).sort()).toEqual(
      [
        '@acme/plugin-a',
        'broken-plugin',
        'future-plugin',
        'liar-plugin',
        'plugin-dup-1',
        'plugin-dup-2',
        'unbranded-plugin',
      ].sort(),
    );
    expect(found.plugins.find((p) => p.packageName === '@acme/plugin-a')).toMatchObject({
      version: '1.0.0',
      contract: '^1.0.0',
      services: ['alpha', 'beta'],
    });
  });

  it('says why a declared plugin cannot be used: not installed, or an unreadable package.json', async () => {
    const host = unusableHost;
    const { readFileSync: read, writeFileSync: write, mkdirSync } = await import('node:fs');
    const pkg = JSON.parse(read(join(host, 'package.json'), 'utf8'));
    pkg.dependencies['missing-plugin'] = '1.0.0';
    pkg.dependencies['garbled-plugin'] = '1.0.0';
    pkg.devDependencies = { 'dev-only-tool': '1.0.0' }; // left out by --omit=dev: no word about it
    write(join(host, 'package.json'), JSON.stringify(pkg));
    mkdirSync(join(host, 'node_modules', 'garbled-plugin'));
    write(join(host, 'node_modules', 'garbled-plugin', 'package.json'), '{ "name": "garbled-plugin", ');
    const { problems } = discoverPlugins({ root: host });
    expect(problems).toEqual([
      {
        packageName: 'garbled-plugin',
        message: expect.stringContaining('cannot be read as JSON: reinstall the package'),
      },
      { packageName: 'missing-plugin', message: 'declared in package.json but not installed: run npm install' },
    ]);
    const inv = invoker({ root: host });
    await expect(inv.invokePipelineHandler('missing_service', {})).rejects.toThrow(
      'Declared packages that could not be used: garbled-plugin: its package.json',
    );
    await expect(inv.invokePipelineHandler('missing_service', {})).rejects.toThrow(
      'missing-plugin: declared in package.json but not installed: run npm install',
    );
    expect((await inv.invokePipelineHandler('installed_service', {})).status).toBe('SUCCEEDED');
  });

  it('reports a malformed manifest instead of loading it', () => {
    expect(discoverPlugins({ root }).problems).toEqual([
      { packageName: 'bad-manifest', message: expect.stringContaining('"contract" must be a semver range') },
    ]);
  });

  it('honours include and exclude', () => {
    expect(discoverPlugins({ root, include: ['@acme/plugin-a'] }).plugins.map((p) => p.packageName)).toEqual([
      '@acme/plugin-a',
    ]);
    expect(discoverPlugins({ root, exclude: ['plugin-dup-2'] }).plugins.map((p) => p.packageName)).not.toContain(
      'plugin-dup-2',
    );
  });

  it('finds the host package.json from a subfolder', () => {
    expect(findHostRoot(join(root, 'node_modules', '@acme'))).toBe(root);
    expect(discoverPlugins({ root: join(root, 'does-not-exist') }).plugins).toEqual([]);
  });
});

describe('invoker with discovered plugins', () => {
  it('lists services from manifests without importing any plugin code', () => {
    const before = Object.keys(require.cache).filter((f) => f.startsWith(root));
    expect(invoker().listServices()).toEqual([
      'alpha',
      'beta',
      'broken_service',
      'dup_service',
      'future_service',
      'promised_service',
      'real_service',
      'unbranded_service',
    ]);
    expect(Object.keys(require.cache).filter((f) => f.startsWith(root))).toEqual(before);
  });

  it('imports a plugin on the first invocation of one of its services and records its package and version', async () => {
    const inv = invoker();
    const record = await inv.invokePipelineHandler('alpha', { run_type: 'prod', x: 1 });
    expect(record).toMatchObject({
      status: 'SUCCEEDED',
      body: 'alpha done',
      handler_package: '@acme/plugin-a',
      handler_version: '1.0.0',
    });
    expect(JSON.parse(record.metadata)).toEqual({ echo: { run_type: 'prod', x: 1 }, run_type: 'prod' });
    expect((await inv.invokePipelineHandler('beta', {})).body).toBe('beta done');
  });

  it('refuses an incompatible plugin with both contract versions, before importing it', async () => {
    await expect(invoker().invokePipelineHandler('future_service', {})).rejects.toMatchObject({
      name: 'IncompatiblePluginError',
      packageName: 'future-plugin',
      pluginContract: '^2.0.0',
      hostContract: '1.0.0',
    });
  });

  it('reports a broken plugin for its own services only, and never hides the others', async () => {
    const inv = invoker();
    await expect(inv.invokePipelineHandler('broken_service', {})).rejects.toMatchObject({
      name: 'PluginLoadError',
      packageName: 'broken-plugin',
      message: expect.stringContaining('syntax or import failure inside the plugin'),
    });
    expect((await inv.invokePipelineHandler('alpha', {})).status).toBe('SUCCEEDED');
  });

  it('refuses a default export that is not a branded plugin', async () => {
    await expect(invoker().invokePipelineHandler('unbranded_service', {})).rejects.toThrow(
      /Could not load handler plugin "unbranded-plugin": .*not branded "@pipeline-invocation\/plugin"/,
    );
  });

  it('refuses a plugin whose manifest promises a service it does not provide', async () => {
    await expect(invoker().invokePipelineHandler('promised_service', {})).rejects.toThrow(
      'its manifest declares promised_service but its plugin object has no handler for it',
    );
  });

  it('names both packages when two claim one service', async () => {
    await expect(invoker().invokePipelineHandler('dup_service', {})).rejects.toMatchObject({
      name: 'DuplicateServiceError',
      message: expect.stringMatching(/plugin-dup-1@1\.0\.0.*plugin-dup-2@1\.0\.0/),
    });
    expect(
      invoker({ exclude: ['plugin-dup-2'] })
        .describeServices()
        .filter((s) => s.service === 'dup_service'),
    ).toEqual([{ service: 'dup_service', package: 'plugin-dup-1', version: '1.0.0' }]);
  });

  it('never loads a package in node_modules that is not a declared dependency', async () => {
    await expect(invoker().invokePipelineHandler('sneaky_service', {})).rejects.toMatchObject({
      name: 'UnknownServiceError',
    });
  });

  it('accepts plugins given explicitly, for bundled apps', async () => {
    class Bundled {
      handle() {
        return { statusCode: 200, body: 'bundled' };
      }
    }
    pipelineHandler('bundled_service')(Bundled);
    const inv = invoker({ discover: false, plugins: [definePlugin({ handlers: [Bundled] })] });
    expect(inv.listServices()).toEqual(['bundled_service']);
    expect((await inv.invokePipelineHandler('bundled_service', {})).body).toBe('bundled');
  });
});
