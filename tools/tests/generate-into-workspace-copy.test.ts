import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tempDir } from '../../tests/support/temp-dir';

// Generates a handler package into a temporary copy of this workspace, then builds it, runs its
// test and lists its service, as a team would right after `npm install` (which here is
// simulated by linking the new package into node_modules, as npm's workspaces do).
const WORKSPACE = resolve(__dirname, '../..');

describe('a generated handler package in a copy of the workspace', () => {
  let copy: string;
  beforeAll(() => {
    copy = tempDir('workspace-copy-');
    const tracked = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: WORKSPACE, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (const file of tracked) {
      if (!existsSync(join(WORKSPACE, file))) continue;
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(WORKSPACE, file), join(copy, file));
    }
    for (const pkg of readdirSync(join(WORKSPACE, 'packages'))) {
      if (existsSync(join(WORKSPACE, 'packages', pkg, 'dist')))
        cpSync(join(WORKSPACE, 'packages', pkg, 'dist'), join(copy, 'packages', pkg, 'dist'), { recursive: true });
    }
    mkdirSync(join(copy, 'node_modules/@pipeline-invocation'), { recursive: true });
    for (const entry of readdirSync(join(WORKSPACE, 'node_modules'))) {
      if (entry !== '@pipeline-invocation')
        symlinkSync(join(WORKSPACE, 'node_modules', entry), join(copy, 'node_modules', entry));
    }
    for (const pkg of readdirSync(join(copy, 'packages'))) {
      symlinkSync(join(copy, 'packages', pkg), join(copy, 'node_modules/@pipeline-invocation', pkg));
    }
    symlinkSync(join(copy, 'tools'), join(copy, 'node_modules/@pipeline-invocation/tools'));
    // The team already has a handler package of its own besides the ones in this repository.
    const extra = join(copy, 'packages/handler-team-extra');
    mkdirSync(extra, { recursive: true });
    writeFileSync(
      join(extra, 'package.json'),
      JSON.stringify({
        name: '@pipeline-invocation/handler-team-extra',
        version: '1.0.0',
        main: 'index.js',
        pipelineInvocation: { contract: '^1.0.0', services: ['team_extra_service'] },
      }),
    );
    writeFileSync(join(extra, 'index.js'), 'module.exports = {};\n');
    symlinkSync(extra, join(copy, 'node_modules/@pipeline-invocation/handler-team-extra'));
    const host = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'));
    host.dependencies['@pipeline-invocation/handler-team-extra'] = '1.0.0';
    writeFileSync(join(copy, 'package.json'), `${JSON.stringify(host, null, 2)}\n`);
  });

  /** Run a command in the copy; a failure shows what it printed. */
  const run = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, {
        cwd: copy,
        encoding: 'utf8',
        env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`${[command, ...args].join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
    }
  };

  it('builds, passes its own test, and shows up in pipeline list', () => {
    const services = () =>
      (
        JSON.parse(run(process.execPath, ['packages/invoker/bin/pipeline.js', 'list', '--json'])) as {
          service: string;
        }[]
      ).map((s) => s.service);
    // whatever handlers the workspace already has (a team adds its own): the new one joins them
    const before = services();
    expect(before).toContain('team_extra_service');
    expect(before).not.toContain('demo_service');
    run(process.execPath, [
      join(copy, 'node_modules/nx/dist/bin/nx.js'),
      'g',
      '@pipeline-invocation/tools:handler-plugin',
      '--name',
      'demo',
      '--service',
      'demo_service',
    ]);
    expect(existsSync(join(copy, 'packages/handler-demo/src/handler.ts'))).toBe(true);
    symlinkSync(join(copy, 'packages/handler-demo'), join(copy, 'node_modules/@pipeline-invocation/handler-demo'));

    run(process.execPath, [
      join(copy, 'node_modules/typescript/bin/tsc'),
      '-p',
      'packages/handler-demo/tsconfig.lib.json',
    ]);
    run(process.execPath, [join(copy, 'node_modules/typescript/bin/tsc'), '-p', 'packages/handler-demo/tsconfig.json']);
    expect(existsSync(join(copy, 'packages/handler-demo/dist/index.js'))).toBe(true);

    const jest = run(process.execPath, [
      join(copy, 'node_modules/jest/bin/jest.js'),
      '-c',
      'packages/handler-demo/jest.config.cjs',
      '--ci',
      '--json',
    ]);
    const results = JSON.parse(jest);
    expect([results.numPassedTests, results.numFailedTests]).toEqual([3, 0]);

    run(process.execPath, [
      join(copy, 'node_modules/prettier/bin/prettier.cjs'),
      '--check',
      'packages/handler-demo',
      'package.json',
    ]);
    run(process.execPath, [join(copy, 'node_modules/eslint/bin/eslint.js'), 'packages/handler-demo']);

    expect(services()).toEqual([...before, 'demo_service'].sort());
    const invoked = JSON.parse(
      run(process.execPath, [
        'packages/invoker/bin/pipeline.js',
        'invoke',
        'demo_service',
        '--payload',
        '{"run_type":"prod","items":["x"]}',
        '--json',
      ]),
    );
    expect(invoked).toMatchObject({
      status: 'SUCCEEDED',
      body: 'Processed 1 item(s)',
      handler_package: '@pipeline-invocation/handler-demo',
    });
  }, 180_000);

  it('a generated classifier plugin labels a queue, passes its own tests, and shows up in pipeline list', () => {
    run(process.execPath, [
      join(copy, 'node_modules/nx/dist/bin/nx.js'),
      'g',
      '@pipeline-invocation/tools:handler-plugin',
      '--name',
      'length-score',
      '--service',
      'ml_inference_length_score',
      '--classifier',
    ]);
    const dir = join(copy, 'packages/handler-length-score');
    symlinkSync(dir, join(copy, 'node_modules/@pipeline-invocation/handler-length-score'));
    const tsc = join(copy, 'node_modules/typescript/bin/tsc');
    run(process.execPath, [tsc, '-p', 'packages/handler-length-score/tsconfig.lib.json']);
    run(process.execPath, [tsc, '-p', 'packages/handler-length-score/tsconfig.json']);
    const results = JSON.parse(
      run(process.execPath, [
        join(copy, 'node_modules/jest/bin/jest.js'),
        '-c',
        'packages/handler-length-score/jest.config.cjs',
        '--ci',
        '--json',
      ]),
    );
    expect([results.numPassedTests, results.numFailedTests]).toEqual([3, 0]);
    run(process.execPath, [join(copy, 'node_modules/eslint/bin/eslint.js'), 'packages/handler-length-score']);
    const listed = JSON.parse(run(process.execPath, ['packages/invoker/bin/pipeline.js', 'list', '--json'])) as {
      service: string;
    }[];
    expect(listed.map((s) => s.service)).toContain('ml_inference_length_score');
    const invoked = JSON.parse(
      run(process.execPath, [
        'packages/invoker/bin/pipeline.js',
        'invoke',
        'ml_inference_length_score',
        '--payload',
        '{"run_type":"prod"}',
        '--json',
      ]),
    );
    expect(invoked).toMatchObject({
      status: 'SUCCEEDED',
      handler_package: '@pipeline-invocation/handler-length-score',
    });
    expect(JSON.parse(invoked.metadata).inference_type).toBe('ml_inference_length_score');
  }, 180_000);
});
