import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../../tests/support/temp-dir';

// `npx @pipeline-invocation/tools handler-plugin` in a folder outside this workspace: the tools
// tarball (npm pack) runs through npm exec, the package it writes builds, passes its own tests and
// `pipeline plugin check`. Offline: the generated package's dependencies are pointed at this
// workspace's built packages and node_modules (file: specs), as a registry would serve them.

const WORKSPACE = resolve(__dirname, '../..');
const outside = tempDir('standalone-generator-');

let tarball: string;
beforeAll(() => {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', outside, '--loglevel=error'], {
      cwd: join(WORKSPACE, 'tools'),
      encoding: 'utf8',
    }),
  );
  tarball = join(outside, packed.filename);
}, 60_000);

function sh(cwd: string, command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The bin itself (what npx runs), for the refusals: quicker than a round through npm exec. */
const bin = (cwd: string, args: string[]) =>
  sh(cwd, process.execPath, [join(WORKSPACE, 'tools/bin/pipeline-tools.cjs'), ...args]);

/** `npx @pipeline-invocation/tools ...`, from the packed tarball. */
const npxTools = (cwd: string, args: string[]) =>
  sh(cwd, 'npm', ['exec', '--yes', '--prefer-offline', `--package=${tarball}`, '--', 'pipeline-tools', ...args]);

/** What `npm install` would do against a registry holding our packages: file: specs into this workspace. */
function installFromWorkspace(dir: string) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'devDependencies']) {
    for (const name of Object.keys(manifest[field] ?? {})) {
      manifest[field][name] = name.startsWith('@pipeline-invocation/')
        ? `file:${join(WORKSPACE, 'packages', name.split('/')[1]!)}`
        : `file:${join(WORKSPACE, 'node_modules', name)}`;
    }
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const installed = sh(dir, 'npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts']);
  expect([installed.code, installed.stderr]).toEqual([0, expect.any(String)]);
}

/** Every file of a generated package (not node_modules or dist), with its content. */
function sources(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(path);
      } else out[path] = readFileSync(join(dir, path), 'utf8');
    }
  };
  walk('');
  return out;
}

describe('npx @pipeline-invocation/tools handler-plugin, outside the workspace', () => {
  it.each([
    [
      'a plain handler under the scope @acme',
      ['--name', 'demo-score', '--service', 'demo_score', '--scope', '@acme'],
      '@acme/handler-demo-score',
    ],
    [
      'a classifier without a scope',
      ['--name', 'tox-check', '--service', 'tox_check', '--classifier'],
      'handler-tox-check',
    ],
  ])(
    '%s: a self-contained package that builds, passes its tests and pipeline plugin check',
    (_what, args, name) => {
      const generated = npxTools(outside, ['handler-plugin', ...args]);
      expect([generated.code, generated.stderr]).toEqual([0, '']);
      expect(generated.stdout).toContain(`Created ${name} in `);
      const dir = join(outside, `handler-${args[1]}`);
      const files = sources(dir);
      expect(Object.keys(files).sort()).toEqual(
        expect.arrayContaining([
          '.gitignore',
          'README.md',
          'jest.config.cjs',
          'package.json',
          'src/index.ts',
          'tests/handler.test.ts',
          'tsconfig.json',
          'tsconfig.lib.json',
        ]),
      );
      // nothing reaches out of the package: no ../ config, no Nx project
      for (const [path, content] of Object.entries(files))
        expect([path, /\.\.\/\.\.\//.test(content)]).toEqual([path, false]);
      const manifest = JSON.parse(files['package.json']!);
      expect(manifest).toMatchObject({ name, pipelineInvocation: { services: [args[3]] } });
      expect(manifest).not.toHaveProperty('nx');
      // the install scripts npm 11 asks about are decided, as this workspace decides them
      const workspaceScripts = JSON.parse(readFileSync(join(WORKSPACE, 'package.json'), 'utf8')).allowScripts;
      expect(manifest.allowScripts).toEqual({ '@parcel/watcher': false, '@swc/core': true, 'better-sqlite3': true });
      for (const [pkg, allowed] of Object.entries(manifest.allowScripts))
        expect([pkg, allowed]).toEqual([pkg, workspaceScripts[pkg]]);
      expect(files['README.md']).toContain('## Collaborators: define a DI token');
      installFromWorkspace(dir);
      const tested = sh(dir, 'npm', ['test']);
      expect([tested.code, `${tested.stdout}${tested.stderr}`]).toEqual([
        0,
        expect.stringContaining('3 passed, 3 total'),
      ]);
      const checked = sh(dir, join(dir, 'node_modules/.bin/pipeline'), ['plugin', 'check', '.']);
      expect([checked.code, checked.stdout]).toEqual([0, expect.stringContaining('no findings, the plugin conforms')]);
    },
    120_000,
  );

  it.each([
    [['handler-plugin', '--name', 'Bad', '--service', 'ok_service'], '--name "Bad" must be kebab-case'],
    [['handler-plugin', '--name', 'ok', '--service', 'Bad-Service'], '--service "Bad-Service" must be snake_case'],
    [
      ['handler-plugin', '--name', 'ok', '--service', 'ok_service', '--scope', 'acme'],
      '--scope "acme" must be an npm scope',
    ],
    [['handler-plugin', '--name', 'ok', '--service', 'ok_service', '--colour'], "Unknown option '--colour'"],
    [['app', '--name', 'ok', '--service', 'ok_service'], 'unknown generator "app"'],
  ])(
    'refuses %j with exit code 2, writing nothing',
    (args, message) => {
      const cwd = mkdtempSync(join(outside, 'refused-'));
      const refused = bin(cwd, args);
      expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining(message)]);
      expect(readdirSync(cwd)).toEqual([]);
    },
    60_000,
  );

  it('refuses a folder that is not empty', () => {
    const cwd = mkdtempSync(join(outside, 'taken-'));
    writeFileSync(join(cwd, 'keep.txt'), 'mine');
    const refused = bin(cwd, ['handler-plugin', '--name', 'x', '--service', 'x_service', '--directory', '.']);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('exists and is not empty')]);
    expect(readdirSync(cwd)).toEqual(['keep.txt']);
    expect(existsSync(join(cwd, 'package.json'))).toBe(false);
  });
});

describe('the versions a standalone package is built against (tools/package.json handlerPluginTemplate)', () => {
  it("are this workspace's: core's contract and package versions, the root's build and test tools", () => {
    const read = (file: string) => JSON.parse(readFileSync(join(WORKSPACE, file), 'utf8'));
    const { contract, versions } = read('tools/package.json').handlerPluginTemplate;
    const source = readFileSync(join(WORKSPACE, 'packages/core/src/version.ts'), 'utf8');
    expect(contract).toBe(/CONTRACT_VERSION\s*=\s*'([\d.]+)'/.exec(source)![1]);
    const root = read('package.json').devDependencies;
    expect(versions).toEqual({
      '@pipeline-invocation/core': read('packages/core/package.json').version,
      '@pipeline-invocation/invoker': read('packages/invoker/package.json').version,
      '@pipeline-invocation/post-labelling': read('packages/post-labelling/package.json').version,
      ...Object.fromEntries(
        ['@swc/core', '@swc/jest', '@types/jest', '@types/node', 'jest', 'typescript'].map((n) => [n, root[n]]),
      ),
    });
  });
});
