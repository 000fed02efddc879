import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cjsPlugin, createHostProject, esmPlugin, runCli } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';
import { runFolders } from '../../../tests/support/run-folders';

const root = createHostProject([
  cjsPlugin('cjs-plugin', ['cjs_service']),
  esmPlugin('esm-plugin', 'esm_service'),
  cjsPlugin('future-plugin', ['future_service'], { manifest: { contract: '^2.0.0', services: ['future_service'] } }),
]);
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: root, env });

/** Run the CLI and list every CommonJS module its process loaded. */
async function loadedModules(args: string[], env: Record<string, string> = {}) {
  const out = join(tempDir('modules-'), 'modules.json');
  const preload = join(out, '..', 'preload.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
  );
  const { code } = await runCli(args, { cwd: root, env, nodeArgs: ['--require', preload] });
  return { code, modules: JSON.parse(readFileSync(out, 'utf8')) as string[] };
}

describe('pipeline list', () => {
  it('prints each service with its package and version, from manifests only', async () => {
    const { code, stdout } = await cli(['list']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^SERVICE\s+PACKAGE\s+VERSION$/);
    expect(stdout).toMatch(/cjs_service\s+cjs-plugin\s+1\.0\.0/);
    expect(stdout).toMatch(/esm_service\s+esm-plugin\s+1\.0\.0/);
  });

  it('prints JSON on stdout with --json', async () => {
    const { code, stdout } = await cli(['list', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      { service: 'cjs_service', package: 'cjs-plugin', version: '1.0.0', contract: '^1.0.0' },
      { service: 'esm_service', package: 'esm-plugin', version: '1.0.0', contract: '>=1.0.0 <2.0.0' },
      { service: 'future_service', package: 'future-plugin', version: '1.0.0', contract: '^2.0.0' },
    ]);
  });

  it('loads no plugin code and none of zod, tsyringe, the AWS SDK, the W&B SDK or BullMQ', async () => {
    const { code, modules } = await loadedModules(['list']);
    expect(code).toBe(0);
    expect(modules.some((m) => m.includes('discovery/manifest.js'))).toBe(true);
    const heavy = modules.filter((m) =>
      /zod|tsyringe|@aws-sdk|@wandb|bullmq|pino|better-sqlite3|cjs-plugin|esm-plugin/.test(m),
    );
    expect(heavy).toEqual([]);
  });
});

describe('pipeline invoke at cold start', () => {
  it('loads only what the run needs: no OpenTelemetry (none configured), no AWS SDK, W&B SDK or BullMQ, no semver index', async () => {
    const { code, modules } = await loadedModules(['invoke', 'esm_service', '--payload', '{"word":"hi"}'], {
      PIPELINE_HOME: tempDir('cold-'),
    });
    expect(code).toBe(0);
    expect(modules.some((m) => m.includes('better-sqlite3'))).toBe(true); // the run's store
    expect(modules.filter((m) => /@opentelemetry|@aws-sdk|@wandb|bullmq|semver\/index\.js/.test(m))).toEqual([]);
  });

  it('loads no zod for a plugin that declares no payload schema (run from the files, where every module loaded is seen)', async () => {
    const { code, modules } = await loadedModules(['invoke', 'cjs_service', '--payload', '{"word":"hi"}'], {
      PIPELINE_HOME: tempDir('cold-'),
      PIPELINE_NO_BUNDLE: '1',
    });
    expect(code).toBe(0);
    expect(modules.some((m) => m.includes('core/dist/index.js'))).toBe(true);
    expect(modules.filter((m) => /[/\\]zod[/\\]/.test(m))).toEqual([]);
  });
});

describe('the "W&B tracking is off" line', () => {
  it('is said once per run, and never ahead of an input error', async () => {
    const env = { LOG_LEVEL: 'info', PIPELINE_HOME: tempDir('wandb-line-') };
    const bad = await cli(['invoke', 'esm_service', '--payload', '{"word":1}'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toContain('W&B tracking is off');
    const ok = await cli(['invoke', 'esm_service', '--payload', '{"word":"hi"}'], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr.split('W&B tracking is off')).toHaveLength(2);
  });
});

describe('pipeline worker / queue without the worker package', () => {
  it('still answer --help, saying how to install it, and refuse to run with exit 2', async () => {
    // A machine where @pipeline-invocation/worker is not installed: Node's resolver cannot find it.
    const dir = tempDir('no-worker-');
    const preload = join(dir, 'no-worker.cjs');
    writeFileSync(
      preload,
      `const Module = require('node:module');
       const resolve = Module._resolveFilename;
       Module._resolveFilename = function (request, ...rest) {
         if (request.startsWith('@pipeline-invocation/worker')) {
           throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
         }
         return resolve.call(this, request, ...rest);
       };`,
    );
    for (const name of ['worker', 'queue']) {
      const help = await runCli([name, '--help'], { cwd: root, nodeArgs: ['--require', preload] });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: pipeline ${name}`);
      expect(help.stdout).toContain('npm install @pipeline-invocation/worker');
      const run = await runCli([name], { cwd: root, nodeArgs: ['--require', preload] });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `\`pipeline ${name}\` needs the worker package: npm install @pipeline-invocation/worker`,
      );
    }
  });
});

describe('errors with --json', () => {
  it('go to stdout as JSON too, with the exit code from the error table', async () => {
    const { code, stdout, stderr } = await cli(['invoke', 'no_such_service', '--json']);
    expect(code).toBe(3);
    expect(JSON.parse(stdout)).toEqual({
      error: { name: 'UnknownServiceError', message: expect.stringContaining('"no_such_service"'), exit_code: 3 },
    });
    expect(stderr).toContain('pipeline invoke: Unknown service "no_such_service"');
    const usage = await cli(['invoke', 'cjs_service', '--payload', 'not json', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error).toMatchObject({ name: 'UsageError', exit_code: 2 });
    // without --json, stdout stays empty
    expect((await cli(['invoke', 'no_such_service'])).stdout).toBe('');
  });
});

describe('pipeline invoke', () => {
  it('runs an ES module plugin, prints the JSON record and stores it in the SQLite file', async () => {
    const { code, stdout, stderr } = await cli(['invoke', 'esm_service', '--payload', '{"word":"hi"}', '--json']);
    expect(stderr).not.toContain('Error');
    expect(code).toBe(0);
    const record = JSON.parse(stdout);
    expect(record).toMatchObject({
      service: 'esm_service',
      status: 'SUCCEEDED',
      body: 'esm says hi',
      handler_package: 'esm-plugin',
    });
    const runs = await cli(['runs', '--json', '--service', 'esm_service']);
    expect(JSON.parse(runs.stdout).items.map((r: { run_id: string }) => r.run_id)).toContain(record.run_id);
    const show = await cli(['show', record.run_id, '--json']);
    expect(JSON.parse(show.stdout)).toEqual(record);
  });

  it('prints a human summary on stdout and logs on stderr', async () => {
    const { code, stdout } = await cli([
      'invoke',
      'cjs_service',
      '--payload',
      '{"run_type":"prod"}',
      '--metadata',
      '{"request_id":"human-1"}',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^SUCCEEDED cjs_service \(run [0-9A-Z]{26}\)/);
    expect(stdout).toContain('handler      cjs-plugin@1.0.0');
  });

  /** The CLI on a real terminal: script(1) from util-linux gives it a pty, as a person would have. */
  const underPty = (env: Record<string, string> = {}) => {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} invoke cjs_service`;
    return new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          LOG_LEVEL: 'info',
          ...runFolders(), // the test run's temp and code cache folders, not the user's
          ...env,
        },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', (error) =>
        resolve({ stdout: out, stderr: `${err}${error.message} (this test needs script from util-linux)`, code: null }),
      );
      child.on('close', (exit) => resolve({ stdout: out, stderr: err, code: exit }));
    });
  };
  // eslint-disable-next-line no-control-regex
  const ansi = /\u001b\[[0-9;]*m/g;

  it('on a terminal, shows a progress bar and short coloured log lines, never on one line', async () => {
    const { stdout, stderr, code } = await underPty();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`[${'#'.repeat(30)}] 100% 1/1`);
    expect(stdout).toMatch(ansi); // colour on a terminal
    const plain = stdout.replace(ansi, '');
    expect(plain).toMatch(/\d\d:\d\d:\d\d INFO {2}run started/);
    // the bar is erased before a log line is written, so no line reads "1/122:31:27 INFO"
    expect(plain).not.toMatch(/\d+\/\d+\d\d:\d\d:\d\d (INFO|WARN)/);
    expect(plain).toMatch(/\r {40,}\r\d\d:\d\d:\d\d INFO {2}run finished/);
    expect(stdout).not.toContain('"level":30');
    expect(stdout).toContain('SUCCEEDED cjs_service');
  });

  it('honours NO_COLOR on a terminal', async () => {
    const { stdout, code } = await underPty({ NO_COLOR: '1' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/\d\d:\d\d:\d\d INFO {2}run started/);
    expect(stdout).not.toMatch(ansi);
  });

  it('off a terminal, reports progress as a log line (every 10 % or 30 s)', async () => {
    const { code, stderr } = await cli(['invoke', 'cjs_service'], { LOG_LEVEL: 'info' });
    expect(code).toBe(0);
    const lines = stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'progress 100% (1/1)', done: 1, total: 1 }));
    expect(stderr).not.toContain('\r');
  });

  it('reads the payload from a file with @file', async () => {
    const file = join(root, 'payload.json');
    writeFileSync(file, '{"word":"from file"}');
    const { code, stdout } = await cli(['invoke', 'esm_service', '--payload', '@payload.json', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).body).toBe('esm says from file');
  });

  it.each([
    ['a handler failure', ['invoke', 'cjs_service', '--payload', '{"mode":"fail"}'], 1, /handler exploded/],
    ['a timeout', ['invoke', 'cjs_service', '--payload', '{"mode":"hang"}', '--timeout', '200'], 1, /TIMED_OUT/],
    ['invalid JSON', ['invoke', 'cjs_service', '--payload', '{run_type:prod}'], 2, /--payload is not valid JSON/],
    [
      'a payload failing the schema',
      ['invoke', 'esm_service', '--payload', '{"word":5}'],
      2,
      /Invalid payload for "esm_service"[\s\S]*word/,
    ],
    ['a bad --timeout', ['invoke', 'cjs_service', '--timeout', 'soon'], 2, /--timeout must be a positive whole number/],
    ['an unknown option', ['invoke', 'cjs_service', '--payloads', '{}'], 2, /Unknown option '--payloads'/],
    ['a missing service', ['invoke'], 2, /missing <service>/],
    [
      'an unknown service',
      ['invoke', 'nope'],
      3,
      /Unknown service "nope"\. Registered services: cjs_service, esm_service, future_service/,
    ],
    [
      'an incompatible plugin',
      ['invoke', 'future_service'],
      5,
      /supports contract \^2\.0\.0, but this host implements contract 1\.0\.0/,
    ],
  ])('exits with the documented code for %s', async (_label, args, expected, message) => {
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(expected);
    expect(stdout + stderr).toMatch(message);
  });

  it('exits 4 when the run store cannot be used, naming the file', async () => {
    const home = tempDir('bad-home-');
    writeFileSync(join(home, 'runs.db'), 'not a database at all '.repeat(100));
    const { code, stderr } = await cli(['invoke', 'cjs_service'], { PIPELINE_HOME: home });
    expect(code).toBe(4);
    expect(stderr).toContain(join(home, 'runs.db'));
    expect(stderr).toContain('not a SQLite database');
  });

  it('records every run when 20 CLI processes invoke at once', async () => {
    const home = tempDir('concurrent-home-');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cli(['invoke', 'cjs_service', '--payload', `{"i":${i}}`, '--json'], { PIPELINE_HOME: home }),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(0));
    const ids = results.map((r) => JSON.parse(r.stdout).run_id);
    expect(new Set(ids).size).toBe(20);
    const runs = JSON.parse((await cli(['runs', '--json', '--limit', '100'], { PIPELINE_HOME: home })).stdout);
    expect(runs.items.map((r: { run_id: string }) => r.run_id).sort()).toEqual([...ids].sort());
  }, 60_000);
});

describe('pipeline runs, doctor, outbox, storage', () => {
  it('lists runs newest first with filters and pages', async () => {
    const home = tempDir('runs-home-');
    const env = { PIPELINE_HOME: home };
    await cli(['invoke', 'cjs_service'], env);
    await cli(['invoke', 'cjs_service', '--payload', '{"mode":"fail"}'], env);
    await cli(['invoke', 'esm_service', '--payload', '{"word":"x"}'], env);
    const table = await cli(['runs'], env);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[1]).toContain('esm_service');
    const failed = JSON.parse((await cli(['runs', '--status', 'failed', '--json'], env)).stdout);
    expect(failed.items.map((r: { status: string }) => r.status)).toEqual(['FAILED']);
    const page = JSON.parse((await cli(['runs', '--limit', '2', '--json'], env)).stdout);
    expect(page.items).toHaveLength(2);
    const rest = JSON.parse((await cli(['runs', '--limit', '2', '--cursor', page.nextCursor, '--json'], env)).stdout);
    expect(rest.items).toHaveLength(1);
    expect((await cli(['runs', '--status', 'DONE'], env)).code).toBe(2);
    expect((await cli(['show', 'NO_SUCH_RUN'], env)).code).toBe(2);
  });

  it('doctor shows the configuration with secrets masked, the plugins, and the checks', async () => {
    const marker = 'marker-secret-value-123';
    const { code, stdout } = await cli(['doctor'], {
      WANDB_API_KEY: marker,
      WANDB_MODE: 'offline',
      PERSPECTIVE_API_KEY: marker,
    });
    expect(stdout).not.toContain(marker);
    expect(stdout).toContain(`WANDB_API_KEY=(set, ${marker.length} characters)`);
    expect(stdout).toContain('cjs-plugin@1.0.0  services: cjs_service  compatible: yes');
    expect(stdout).toContain('compatible: no: supports ^2.0.0, host implements 1.0.0');
    expect(stdout).toMatch(/\[ok\] run store: sqlite:.*runs\.db reachable/);
    expect(code).toBe(1); // the incompatible plugin is a problem worth a non-zero exit
    const json = JSON.parse((await cli(['doctor', '--json'])).stdout);
    expect(json.plugins).toHaveLength(3);
    expect(json.plugins.map((p: { compatible: unknown }) => p.compatible).sort()).toEqual([false, true, true]);
    expect(json.plugins.find((p: { compatible: boolean }) => !p.compatible).incompatibility).toBe(
      'supports ^2.0.0, host implements 1.0.0',
    );
    expect(json.checks.every((c: { ok: unknown }) => typeof c.ok === 'boolean')).toBe(true);
  });

  it('doctor flags every invalid configuration value at once and exits 2', async () => {
    const { code, stdout } = await cli(['doctor', '--json'], {
      PIPELINE_STORE: 'postgres',
      WANDB_MODE: 'bogus',
      PIPELINE_HEARTBEAT_MS: 'abc',
    });
    expect(code).toBe(2);
    const failed = JSON.parse(stdout).checks.filter((c: { ok: boolean }) => !c.ok);
    expect(failed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'configuration (storage)', detail: expect.stringContaining('PIPELINE_STORE') }),
        expect.objectContaining({ name: 'configuration (tracking)', detail: expect.stringContaining('WANDB_MODE') }),
        expect.objectContaining({
          name: 'configuration (run lifecycle)',
          detail: expect.stringContaining('PIPELINE_HEARTBEAT_MS="abc"'),
        }),
      ]),
    );
    const badValues: [string, string][] = [
      ['LOG_LEVEL', 'loud'],
      ['WANDB_MODE', 'bogus'],
      ['PIPELINE_STORE', 'postgres'],
    ];
    for (const [name, value] of badValues) {
      const refused = await cli(['invoke', 'cjs_service'], { [name]: value });
      expect([name, refused.code]).toEqual([name, 2]);
      expect(refused.stderr).toContain(name);
      expect((await cli(['doctor'], { [name]: value })).code).toBe(2);
    }
    // and invoke refuses the same value before any run, with the same exit code
    const invoked = await cli(['invoke', 'cjs_service'], { PIPELINE_HEARTBEAT_MS: '-5' });
    expect(invoked.code).toBe(2);
    expect(invoked.stderr).toContain(
      'PIPELINE_HEARTBEAT_MS="-5" is invalid: expected a positive whole number of milliseconds',
    );
  });

  it('outbox shows and flushes waiting records', async () => {
    const home = tempDir('outbox-home-');
    const record = {
      service: 'cjs_service',
      timestamp: '2026-11-21T10:00:00.000Z',
      status_code: 200,
      body: 'ok',
      metadata_table_name: 'integration_run_metadata',
      metadata: '{}',
      run_id: '01JOUTBOX00000000000000000',
      status: 'SUCCEEDED',
      started_at: '2026-11-21T10:00:00.000Z',
      handler_package: 'p',
      handler_version: '1',
      request_metadata: {},
    };
    // a torn line (a crash mid-append) is quarantined and counted, never dropped in silence
    writeFileSync(join(home, 'outbox.jsonl'), `${JSON.stringify(record)}\n{"service":"to\n`);
    const env = { PIPELINE_HOME: home };
    expect((await cli(['outbox'], env)).stdout).toContain('1 record(s) waiting');
    const flushed = await cli(['outbox', '--flush'], env);
    expect(flushed.code).toBe(0);
    expect(flushed.stdout).toContain('wrote 1 record(s) to sqlite:');
    expect(flushed.stdout).toContain('0 still waiting; 1 quarantined');
    expect(JSON.parse((await cli(['show', record.run_id, '--json'], env)).stdout)).toEqual(record);
    const after = JSON.parse((await cli(['outbox', '--json'], env)).stdout);
    expect(after.waiting).toEqual([]);
    expect(after.quarantined).toEqual([
      expect.objectContaining({ line: '{"service":"to', reason: expect.stringContaining('not JSON') }),
    ]);
    expect((await cli(['outbox'], env)).stdout).toContain('1 quarantined in');
  });

  it('storage init prepares the SQLite store', async () => {
    const home = tempDir('init-home-');
    const { code, stdout } = await cli(['storage', 'init'], { PIPELINE_HOME: home });
    expect(code).toBe(0);
    expect(stdout).toBe(`Run store ready: sqlite at ${join(home, 'runs.db')}\n`);
    expect((await cli(['storage', 'drop'], { PIPELINE_HOME: home })).code).toBe(2);
  });

  it.each(['list', 'invoke', 'runs', 'show', 'doctor', 'outbox', 'storage'])(
    '%s --help prints usage and exits 0',
    async (command) => {
      const { code, stdout } = await cli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: pipeline ${command}`));
    },
  );

  it('top-level help, version and unknown commands', async () => {
    expect((await cli(['--help'])).stdout).toContain('Exit codes:');
    expect((await cli(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});
