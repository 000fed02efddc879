import { ObservabilityError } from '@pipeline-invocation/core';
import { Redactor, WandbTracker, createLogger, trackingConfigFromEnv } from '../src';
import { Capture } from './helpers/capture';
import { record } from './helpers/records';
import { startFakeWandb, type FakeWandb } from './helpers/wandb-server';

const KEY = 'wandb-secret-key-0123456789';
let server: FakeWandb;
const made: WandbTracker[] = [];
beforeEach(async () => {
  server = await startFakeWandb();
});
afterEach(async () => {
  await Promise.all(made.splice(0).map((t) => t.close()));
  await server.stop();
});

function tracker(env: Record<string, string> = {}, timeoutMs = 3000) {
  const logs = new Capture();
  const config = trackingConfigFromEnv({
    WANDB_API_KEY: KEY,
    WANDB_BASE_URL: server.baseUrl,
    PIPELINE_WANDB_TIMEOUT_MS: String(timeoutMs),
    ...env,
  });
  const redactor = new Redactor({ WANDB_API_KEY: KEY });
  const logger = createLogger({ destination: logs, format: 'json', level: 'debug', redactor });
  const t = new WandbTracker({ config, redactor, logger });
  made.push(t);
  return { tracker: t, logs, config };
}

async function track(t: WandbTracker, rec = record(), payload: Record<string, unknown> = { run_type: 'prod' }) {
  await t.start({ record: { ...rec, status: 'RUNNING' }, payload });
  t.log(rec.run_id, { posts_labelled: 10 }, 0);
  t.log(rec.run_id, { posts_labelled: 20, failed: 1 }, 1);
  await t.finish(rec);
  await t.flush(); // W&B finishes in the background: wait until it has the run
  return rec;
}

describe('WandbTracker against a W&B-protocol server on loopback', () => {
  it('sends metrics with the right project, run name and config, then finishes with the exit code', async () => {
    const { tracker: t } = tracker();
    const rec = await track(t, record(), { run_type: 'prod', api_key: 'payload-secret-value', limit: 5 });
    const run = server.runs.get(`svc_a/${rec.run_id.toLowerCase()}`);
    expect(run).toBeDefined();
    expect(run!.displayName).toBe(rec.run_id);
    expect(run!.entity).toBe('test-entity');
    expect(run!.config).toMatchObject({
      run_type: 'prod',
      limit: 5,
      api_key: '[REDACTED]',
      handler_package: 'pkg',
      handler_version: '1.2.3',
    });
    expect(run!.history.map((h) => h.posts_labelled)).toEqual(expect.arrayContaining([10, 20]));
    expect(run!.summary).toMatchObject({ status_code: 200, duration_ms: 42, status: 'SUCCEEDED', failed: 1 });
    expect(run!.complete).toBe(true);
    expect(run!.exitCode).toBe(0);
    expect(t.disabledReason).toBeUndefined();
  });

  it('uses WANDB_PROJECT and WANDB_ENTITY when set', async () => {
    const { tracker: t } = tracker({ WANDB_PROJECT: 'shared', WANDB_ENTITY: 'team' });
    const rec = await track(t);
    expect(server.runs.get(`shared/${rec.run_id.toLowerCase()}`)?.entity).toBe('team');
  });

  it('puts two services in two projects (the original logged both into the first)', async () => {
    const { tracker: t } = tracker();
    await track(t, record({ service: 'svc_a' }));
    await track(t, record({ service: 'svc_b', status: 'FAILED', status_code: 500 }));
    const projects = [...server.runs.values()].map((r) => [r.project, r.exitCode]);
    expect(projects).toEqual([
      ['svc_a', 0],
      ['svc_b', 1],
    ]);
  });

  it('survives an upsert answered 403: the process lives, one warning, W&B off afterwards', async () => {
    server.mode = 'reject-upsert';
    const { tracker: t, logs } = tracker();
    const started = Date.now();
    await track(t);
    await track(t);
    expect(Date.now() - started).toBeLessThan(3000 + 2000);
    expect(t.disabledReason).toBeInstanceOf(ObservabilityError);
    expect(t.disabledReason).toMatchObject({ component: 'wandb', service: 'svc_a' });
    const warnings = logs.lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.msg)).toContain('W&B tracking is off for the rest of this process');
    expect(String(warnings[0]!.fix)).toContain('WANDB_API_KEY');
    expect(server.requests.filter((r) => r.body.includes('UpsertBucket'))).toHaveLength(1);
  });

  describe('timeouts, on the clock (jest fake timers; the thread and the server stay real)', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
    afterEach(() => jest.useRealTimers());

    /** Start and finish a run without waiting for W&B; `flushed()` says whether `flush` has returned. */
    async function finishWithoutWaiting(t: WandbTracker) {
      const rec = record();
      await t.start({ record: { ...rec, status: 'RUNNING' }, payload: {} });
      await t.finish(rec);
      let flushed = false;
      const flush = t.flush().then(() => (flushed = true));
      return { flush, flushed: () => flushed };
    }

    /** Let real I/O (the thread's messages, the server's requests) happen until `seen()` holds. */
    async function until(seen: () => boolean) {
      while (!seen()) await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    }

    it('a server that never answers: W&B is given up when the init timeout expires, not before', async () => {
      server.mode = 'silent';
      const { tracker: t, logs } = tracker({}, 10_000);
      const { flush, flushed } = await finishWithoutWaiting(t);
      await jest.advanceTimersByTimeAsync(9_999);
      expect(flushed()).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await flush;
      expect(t.disabledReason?.message).toContain('did not answer init within 10000 ms');
      expect(logs.lines().filter((l) => l.level === 40)).toHaveLength(1);
    });

    it('a server that answers 500: W&B is given up by the init timeout at the latest', async () => {
      server.mode = 'fail';
      const { tracker: t } = tracker({}, 10_000);
      const { flush } = await finishWithoutWaiting(t);
      await jest.advanceTimersByTimeAsync(10_000);
      await flush;
      expect(t.disabledReason?.message).toMatch(
        /did not answer init within 10000 ms|Unable to determine default entity/,
      );
    });

    it('a server that takes the run but never confirms its finish: given up when the finish timeout expires', async () => {
      server.mode = 'hang-finish';
      const { tracker: t } = tracker({}, 10_000);
      const rec = record();
      await t.start({ record: { ...rec, status: 'RUNNING' }, payload: {} });
      await t.finish(rec);
      let flushed = false;
      const flush = t.flush().then(() => (flushed = true));
      // init and finish reach W&B in real time (thread start-up, SDK load): wait until the
      // finish request is at the server, which the thread sends after it has told us of the init
      await until(() => server.requests.some((r) => r.body.includes('"complete":true')));
      await jest.advanceTimersByTimeAsync(9_999);
      expect(flushed).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await flush;
      expect(t.disabledReason?.message).toContain('did not answer finish within 10000 ms');
      expect(server.runs.get(`svc_a/${rec.run_id.toLowerCase()}`)?.complete).toBe(false);
    });
  });

  it('returns from start and finish without waiting for W&B, and flush waits until W&B has the run', async () => {
    const { tracker: t } = tracker();
    const rec = record();
    const key = `svc_a/${rec.run_id.toLowerCase()}`;
    await t.start({ record: { ...rec, status: 'RUNNING' }, payload: {} });
    t.log(rec.run_id, { step_metric: 1 }, 0);
    await t.finish(rec);
    // the thread is still starting the SDK: W&B has not even seen the run's init yet
    expect(server.runs.get(key)?.complete).not.toBe(true);
    await t.flush();
    const run = server.runs.get(key);
    expect(run?.complete).toBe(true);
    expect(run?.history.map((h) => h.step_metric)).toContain(1);
    expect(t.disabledReason).toBeUndefined();
  });

  it('tracks runs that overlap (a queue worker at concurrency 4) through one tracker, each complete', async () => {
    const { tracker: t } = tracker();
    const recs = ['A', 'B', 'C', 'D'].map((x) => record({ run_id: `01J0000000000000000000000${x}` }));
    await Promise.all(recs.map((r) => t.start({ record: { ...r, status: 'RUNNING' }, payload: {} })));
    recs.forEach((r, i) => t.log(r.run_id, { index: i }, 0));
    await Promise.all(recs.reverse().map((r) => t.finish(r)));
    await t.flush();
    for (const [i, r] of [...recs].reverse().entries()) {
      const run = server.runs.get(`svc_a/${r.run_id.toLowerCase()}`);
      expect(run).toMatchObject({ complete: true, exitCode: 0 });
      expect(run!.history.map((h) => h.index)).toContain(i);
    }
  });

  it('never sends the API key anywhere but the authorization header', async () => {
    const { tracker: t, logs } = tracker();
    await track(t, record(), { token: KEY, note: `uses ${KEY}` });
    for (const r of server.requests) expect(r.body).not.toContain(KEY);
    expect(logs.text).not.toContain(KEY);
  });
});
