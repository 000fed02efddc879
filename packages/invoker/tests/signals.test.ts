import { cliProject } from './helpers/cli-project';
import { cjsPlugin, createHostProject } from './helpers/host-project';

// Real processes, real signals, the real SQLite file: what a user at a terminal sees.
const root = createHostProject([cjsPlugin('signal-plugin', ['sig_service'])]);
const project = (env: Record<string, string> = {}) => cliProject(root, 'sig_service', env);

describe('pipeline invoke under signals', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s cancels the run: CANCELLED record, exit %i, and the key is free at once',
    async (signal, exitCode) => {
      const p = project();
      const run = p.start(p.invoke('until-aborted', `key-${signal}`));
      const running = await p.running();
      run.child.kill(signal);
      const result = await run.result;
      expect(result.code).toBe(exitCode);
      expect(result.stderr).toContain(`${signal} received: cancelling the run`);
      const [record] = await p.runs();
      expect(record).toMatchObject({
        run_id: running.run_id,
        status: 'CANCELLED',
        status_code: 499,
        body: `Run cancelled (${signal}); its handler stopped.`,
      });
      expect(JSON.parse(record!.metadata)).toEqual({ stopped_by: signal });
      // the same key runs again straight away
      const again = await p.cli(p.invoke('fine', `key-${signal}`));
      expect(again.code).toBe(0);
      expect((await p.runs()).map((r) => r.status)).toEqual(['CANCELLED', 'SUCCEEDED']);
    },
  );

  it('records a handler that ignores its abort signal CANCELLED once the grace period ends, saying it may still run', async () => {
    const p = project({ PIPELINE_CANCEL_GRACE_MS: '300' });
    const run = p.start(p.invoke('hang', 'key-grace'));
    await p.running();
    run.child.kill('SIGTERM');
    const result = await run.result;
    expect(result.code).toBe(143);
    expect((await p.runs())[0]).toMatchObject({
      status: 'CANCELLED',
      body: 'Run cancelled (SIGTERM); its handler did not settle within 300 ms and may still be running.',
      handler_settled: false,
    });
  });

  it('a second signal records the run at once instead of waiting out the grace period', async () => {
    const p = project({ PIPELINE_CANCEL_GRACE_MS: '120000' });
    const run = p.start(p.invoke('hang', 'key-twice'));
    await p.running();
    const started = Date.now();
    let stderr = '';
    const firstTaken = new Promise<void>((resolve) =>
      run.child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('SIGINT received: cancelling the run')) resolve();
      }),
    );
    run.child.kill('SIGINT');
    await firstTaken; // the run is cancelling, and would wait its 120 s grace
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code).toBe(130);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.stderr).toContain('SIGINT again: recording the run CANCELLED now');
    expect((await p.runs())[0]?.status).toBe('CANCELLED');
  });

  it('SIGKILL leaves RUNNING; the key conflicts while the heartbeat is fresh, then the run is marked CRASHED', async () => {
    const p = project();
    const run = p.start(p.invoke('hang', 'key-kill'));
    const running = await p.running();
    run.child.kill('SIGKILL');
    expect((await run.result).signal).toBe('SIGKILL');
    const conflict = await p.cli(p.invoke('hang', 'key-kill'));
    expect(conflict.code).toBe(6);
    expect(conflict.stderr).toContain(`is still RUNNING (run ${running.run_id}, heartbeat`);
    // a process that takes a run silent for 100 ms for dead (instead of waiting 4 s for the default here)
    const after = await p.cli(p.invoke('hang', 'key-kill'), {
      ...p.seesStale,
      PIPELINE_TIMEOUT_MS: '50',
      PIPELINE_CANCEL_GRACE_MS: '50',
    });
    expect(after.code).toBe(1); // ran (and timed out): the key was free
    const records = await p.runs();
    expect(records.map((r) => r.status)).toEqual(['CRASHED', 'TIMED_OUT']);
    expect(records[0]).toMatchObject({ run_id: running.run_id, error: { name: 'RunCrashed' } });
  });
});

describe('idempotency keys on the command line', () => {
  it('replays a SUCCEEDED key ("replayed run"), refuses it with another payload (exit 6), shows a running heartbeat', async () => {
    const p = project();
    const first = await p.cli([...p.invoke('fine', 'key-cli'), '--json']);
    expect(first.code).toBe(0);
    const record = JSON.parse(first.stdout);
    const replay = await p.cli(p.invoke('fine', 'key-cli'));
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(
      `replayed run ${record.run_id}: sig_service SUCCEEDED earlier with this idempotency key; nothing ran`,
    );
    const replayJson = JSON.parse((await p.cli([...p.invoke('fine', 'key-cli'), '--json'])).stdout);
    expect(replayJson).toEqual({ ...record, replayed: true });
    const mismatch = await p.cli(p.invoke('other', 'key-cli'));
    expect(mismatch.code).toBe(6);
    expect(mismatch.stderr).toContain(
      `Idempotency key "key-cli" belongs to run ${record.run_id}, which had another payload`,
    );
    expect((await p.runs()).map((r) => r.status)).toEqual(['SUCCEEDED']);

    const running = p.start(p.invoke('until-aborted', 'key-shown'));
    try {
      const run = await p.running();
      const listed = await p.cli(['runs', '--status', 'running']);
      // a RUNNING run has no status code yet: "-"
      expect(listed.stdout).toMatch(
        new RegExp(`${run.run_id}\\s+sig_service\\s+RUNNING\\s+-\\s+\\S+\\s+-\\s+\\d+ s ago`),
      );
    } finally {
      running.child.kill('SIGINT'); // also when an expectation failed: a child left running holds jest open
    }
    expect((await running.result).code).toBe(130);
  });
});

describe('pipeline cancel', () => {
  it('stops a run in another process at its next heartbeat; the run is recorded CANCELLED', async () => {
    const p = project();
    const run = p.start(p.invoke('until-aborted', 'key-remote'));
    const running = await p.running();
    const cancel = await p.cli(['cancel', running.run_id, '--wait']);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`run ${running.run_id} ended CANCELLED`);
    const result = await run.result;
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`CANCELLED sig_service (run ${running.run_id})`);
    expect((await p.store.get(running.run_id))?.body).toMatch(
      /^Run cancelled \(cancel requested at .*\); its handler stopped\.$/,
    );
  });

  it('records a run whose process is gone (stale heartbeat) CRASHED at once, and says so for ended or unknown runs', async () => {
    const p = project();
    const run = p.start(p.invoke('hang', 'key-dead'));
    const running = await p.running();
    run.child.kill('SIGKILL');
    await run.result;
    const cancel = await p.cli(['cancel', running.run_id], p.seesStale);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`run ${running.run_id} had no live process: recorded CRASHED`);
    expect(await p.store.get(running.run_id)).toMatchObject({
      status: 'CRASHED',
      error: { name: 'RunCrashed' },
      body: expect.stringContaining('`pipeline cancel` found no live process'),
    });
    // the key is free again
    const rerun = await p.cli(p.invoke('fine', 'key-dead'));
    expect(rerun.code).toBe(0);

    const again = await p.cli(['cancel', running.run_id]);
    expect(again.code).toBe(6);
    expect(again.stdout).toContain('had already ended CRASHED');
    const unknown = await p.cli(['cancel', '01ZZZZZZZZZZZZZZZZZZZZZZZZ']);
    expect(unknown.code).toBe(2);
  });
});
