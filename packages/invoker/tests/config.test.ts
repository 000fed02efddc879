import { errorPolicy } from '@pipeline-invocation/core/errors';
import { createInvoker } from '../src';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';

/** Every variable the host reads, with values it must refuse. */
const BAD_VALUES: [string, string][] = [
  ['PIPELINE_STORE', 'postgres'],
  ['PIPELINE_SQLITE_BUSY_MS', 'abc'],
  ['PIPELINE_SQLITE_BUSY_MS', '0'],
  ['PIPELINE_DYNAMODB_TABLE', 'a'],
  ['PIPELINE_TIMEOUT_MS', 'abc'],
  ['PIPELINE_TIMEOUT_MS', '0'],
  ['PIPELINE_TIMEOUT_MS', '-5'],
  ['PIPELINE_HEARTBEAT_MS', '1.5'],
  ['PIPELINE_STALE_AFTER_MS', '10'],
  ['PIPELINE_CANCEL_GRACE_MS', 'soon'],
  ['PIPELINE_WANDB_TIMEOUT_MS', '-1'],
  ['WANDB_MODE', 'bogus'],
  ['WANDB_BASE_URL', 'ftp://example.org'],
  ['LOG_LEVEL', 'loud'],
];

describe('configuration is read once, at start-up', () => {
  it.each(BAD_VALUES)(
    'createInvoker refuses %s=%s before any run, naming the variable (exit code 2)',
    (name, value) => {
      let thrown: unknown;
      try {
        createInvoker({ discover: false, env: { [name]: value } });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect((thrown as Error).message).toContain(name);
      expect(errorPolicy(thrown).exitCode).toBe(2);
    },
  );

  it('takes every variable from InvokerConfig.env, not from process.env', () => {
    const saved = process.env.PIPELINE_STORE;
    process.env.PIPELINE_STORE = 'postgres'; // would be refused if it were read
    try {
      expect(() => createInvoker({ discover: false, env: { PIPELINE_STORE: 'memory' } })).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env.PIPELINE_STORE;
      else process.env.PIPELINE_STORE = saved;
    }
  });
});

const marker = 'passphrase-marker-98765';
const root = createHostProject([
  cjsPlugin('secretive-plugin', ['secretive_service'], {
    manifest: {
      contract: '^1.0.0',
      services: ['secretive_service'],
      env: [
        { name: 'SECRETIVE_PASSPHRASE', description: 'the passphrase of the secretive service', secret: true },
        { name: 'SECRETIVE_MODE', description: 'fast or thorough (default fast)' },
      ],
    },
  }),
  cjsPlugin('sloppy-plugin', ['sloppy_service'], {
    manifest: { contract: '^1.0.0', services: ['sloppy_service'], env: [{ name: 'NO DESCRIPTION' }] },
  }),
]);
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: root, env });

describe('variables declared in plugin manifests', () => {
  it('pipeline doctor lists them with their package, and masks the secret ones', async () => {
    const env = { SECRETIVE_PASSPHRASE: marker, SECRETIVE_MODE: 'thorough' };
    const text = await cli(['doctor'], env);
    expect(text.stdout).not.toContain(marker);
    expect(text.stdout).toContain(`SECRETIVE_PASSPHRASE=(set, ${marker.length} characters)`);
    expect(text.stdout).toContain('SECRETIVE_MODE=thorough');
    expect(text.stdout).toContain(
      'SECRETIVE_PASSPHRASE (secret): the passphrase of the secretive service [secretive-plugin; set]',
    );
    // a malformed declaration is a discovery problem naming the package, not a crash
    expect(text.stdout).toMatch(/\[FAIL\] plugin sloppy-plugin: .*"env" has an entry without a valid variable name/);
    const json = JSON.parse((await cli(['doctor', '--json'], env)).stdout);
    expect(json.variables).toEqual(
      expect.arrayContaining([
        {
          name: 'SECRETIVE_MODE',
          description: 'fast or thorough (default fast)',
          source: 'secretive-plugin',
          set: true,
        },
        expect.objectContaining({ name: 'REDIS_URL', source: '@pipeline-invocation/worker', set: false }),
        expect.objectContaining({ name: 'PIPELINE_STORE', source: 'pipeline-invocation' }),
      ]),
    );
    // nothing the host itself declares belongs to a plugin or the worker
    const hostOwn = json.variables.filter((v: { source: string }) => v.source === 'pipeline-invocation');
    expect(
      hostOwn.map((v: { name: string }) => v.name).filter((n: string) => /PERSPECTIVE|REDIS|BSKY/.test(n)),
    ).toEqual([]);
  });

  it('redacts the value of a declared secret from the run record, though its name looks harmless', async () => {
    const invoked = await cli(
      ['invoke', 'secretive_service', '--payload', JSON.stringify({ note: `x ${marker} y` }), '--json'],
      { SECRETIVE_PASSPHRASE: marker, PIPELINE_STORE: 'memory', PIPELINE_HOME: `${root}/home` },
    );
    expect(invoked.code).toBe(0);
    expect(invoked.stdout).not.toContain(marker);
    expect(JSON.parse(JSON.parse(invoked.stdout).metadata).echo.note).toBe('x [REDACTED] y');
  });

  it.each([
    ['PIPELINE_TIMEOUT_MS', '0'],
    ['PIPELINE_SQLITE_BUSY_MS', 'abc'],
    ['WANDB_BASE_URL', 'ftp://example.org'],
    ['PIPELINE_WANDB_TIMEOUT_MS', '-1'],
  ])('pipeline invoke refuses %s=%s with exit code 2 before any run', async (name, value) => {
    const refused = await cli(['invoke', 'secretive_service', '--json'], { [name]: value });
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ exit_code: 2, message: expect.stringContaining(name) });
  });
});
