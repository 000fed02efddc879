import { getEventListeners } from 'node:events';
import { silentLogger } from '@pipeline-invocation/observability';
import { createInvoker } from '../src';
import { MemoryRunStore, RecordingTracker, createTestInvoker } from '../src/testing';
import {
  RunLifecycle,
  pipelineHandler,
  type HandlerResult,
  type RunContext,
  type RunExecutionMetadata,
  type RunStore,
} from '@pipeline-invocation/core';
import { FaultyHandler, GREETING, GreetHandler } from './helpers/handlers';
import { fakeTime, track } from './helpers/fake-time';
import { tempDir } from '../../../tests/support/temp-dir';

const withGreeting = { register: (c: any) => c.register(GREETING, { useValue: 'Hello' }) };

afterEach(() => jest.useRealTimers());

describe('invokePipelineHandler', () => {
  it('runs the handler with its collaborators injected and returns the SUCCEEDED record', async () => {
    const { invoker, store, tracker } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const progress: [number, number][] = [];
    const record = await invoker.invokePipelineHandler(
      'greet',
      { run_type: 'prod', name: 'Ada' },
      { request_id: 'r-1', caller: 'test' },
      { onProgress: (d, t) => progress.push([d, t]) },
    );
    expect(record).toMatchObject({
      service: 'greet',
      status: 'SUCCEEDED',
      status_code: 200,
      body: 'Hello, Ada',
      run_type: 'prod',
      // the store actually used: the memory store's is 'memory'
      metadata_table_name: 'memory',
      handler_package: '(inline)',
      request_metadata: { request_id: 'r-1', caller: 'test' },
      idempotency_key: 'r-1',
    });
    expect(JSON.parse(record.metadata)).toEqual({
      same_context: true,
      previous: null,
      metrics: { greeted: 1 },
      metric_steps: { greeted: [[0, 1]] },
    });
    expect(record.duration_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(record.ended_at!)).toBeGreaterThanOrEqual(Date.parse(record.started_at));
    expect(progress).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(store.all()).toEqual([record]);
    expect(tracker.calls.map((c) => c.type)).toEqual(['start', 'log', 'finish']);
    expect(tracker.finished).toEqual([record]);
  });

  it('writes a RUNNING record before the handler starts, so a crashed run stays visible', async () => {
    let seenWhileRunning: RunExecutionMetadata[] = [];
    const store = new MemoryRunStore();
    const { invoker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      register: (c) => c.register(GREETING, { useValue: '' }),
    });
    const original = FaultyHandler.prototype.handle;
    FaultyHandler.prototype.handle = async function (this: FaultyHandler, event, context) {
      seenWhileRunning = store.all();
      return original.call(this, event, context);
    };
    try {
      await invoker.invokePipelineHandler('faulty', { mode: 'fine' });
    } finally {
      FaultyHandler.prototype.handle = original;
    }
    expect(seenWhileRunning.map((r) => r.status)).toEqual(['RUNNING']);
    expect(store.all().map((r) => r.status)).toEqual(['SUCCEEDED']);
  });

  it('gives the handler the previous run of its service', async () => {
    const { invoker } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const first = await invoker.invokePipelineHandler('greet', { run_type: 'prod', name: 'a' });
    const second = await invoker.invokePipelineHandler('greet', { run_type: 'prod', name: 'b' });
    expect(JSON.parse(second.metadata).previous).toBe(first.run_id);
  });

  it.each([
    ['throw', 'Error', 'Handler failed: disk on fire'],
    ['throw-string', 'NonErrorThrown', 'Handler failed: a plain string'],
    ['wrong-shape', 'InvalidHandlerResult', 'not { statusCode: integer, body: string'],
  ])(
    'records a handler that fails (%s) as FAILED with status 500 instead of throwing',
    async (mode, errorName, body) => {
      const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] });
      const record = await invoker.invokePipelineHandler('faulty', { mode });
      expect(record).toMatchObject({ status: 'FAILED', status_code: 500, error: { name: errorName } });
      expect(record.body).toContain(body);
      expect(store.all()).toEqual([record]);
    },
  );

  it('keeps a handler\'s "retryable" mark on the recorded error', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler] });
    expect((await invoker.invokePipelineHandler('faulty', { mode: 'retryable' })).error).toEqual({
      name: 'Error',
      message: 'upstream busy, try later',
      retryable: true,
    });
    expect((await invoker.invokePipelineHandler('faulty', { mode: 'throw' })).error?.retryable).toBeUndefined();
  });

  it('tells onRunStarted the RUNNING record once it is written', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] });
    const seen: string[] = [];
    const record = await invoker.invokePipelineHandler(
      'faulty',
      {},
      {},
      {
        onRunStarted: async (running) => {
          seen.push(`${running.run_id}:${running.status}:${(await store.get(running.run_id))?.status}`);
        },
      },
    );
    expect(seen).toEqual([`${record.run_id}:RUNNING:RUNNING`]);
  });

  it('a throwing onRunStarted hook does not leave the run RUNNING: the run goes on and is recorded', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] });
    const record = await invoker.invokePipelineHandler(
      'faulty',
      {},
      {},
      {
        onRunStarted: () => {
          throw new Error('Redis is down');
        },
      },
    );
    expect(record.status).toBe('SUCCEEDED');
    expect(store.all().map((r) => r.status)).toEqual(['SUCCEEDED']);
  });

  it('records a handler that returns an error status as FAILED with its own code', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler] });
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'status-500' });
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500, body: 'upstream said no' });
  });

  it('never turns an error raised inside a handler into UnknownServiceError (the original did for KeyError)', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler] });
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'key-error' });
    expect(record).toMatchObject({ status: 'FAILED', error: { name: 'KeyError' } });
  });

  it.each([
    ['slow-but-cooperative', 100, true, 'its handler stopped'],
    ['never', 100 + 10_000, false, 'its handler did not settle within 10000 ms and may still be running'],
  ] as const)(
    'times out a handler that does not finish (%s): its signal aborts, TIMED_OUT (504) once it settled or after the grace',
    async (mode, recordedAtMs, settled, note) => {
      fakeTime();
      const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] }); // cancelGraceMs: 10 000
      const startedMs = Date.now();
      const run = track(invoker.invokePipelineHandler('faulty', { mode }, {}, { timeoutMs: 100 }));
      await jest.advanceTimersByTimeAsync(recordedAtMs - 1);
      expect(run.done).toBe(false);
      expect(store.all()[0]?.status).toBe('RUNNING');
      await jest.advanceTimersByTimeAsync(1);
      expect(run.done).toBe(true);
      const record = run.value!;
      expect(record).toMatchObject({
        status: 'TIMED_OUT',
        status_code: 504,
        error: { name: 'HandlerTimeoutError' },
        handler_settled: settled,
      });
      expect(record.body).toContain('did not finish within 100 ms');
      expect(record.body).toContain(note);
      expect(Date.parse(record.ended_at!) - startedMs).toBe(recordedAtMs);
      expect(store.all()).toEqual([record]);
      // the next invocation works
      expect((await invoker.invokePipelineHandler('faulty', { mode: 'fine' })).status).toBe('SUCCEEDED');
    },
  );

  it('gives a handler that first reads its signal after the timeout an aborted signal with the reason', async () => {
    fakeTime();
    let seen: { aborted: boolean; reason: unknown } | undefined;
    class LateReader {
      async handle(_payload: unknown, context: RunContext): Promise<HandlerResult> {
        await new Promise((resolve) => setTimeout(resolve, 150));
        seen = { aborted: context.signal.aborted, reason: context.signal.reason };
        return { statusCode: 200, body: 'too late' };
      }
    }
    pipelineHandler('late_reader')(LateReader);
    const { invoker } = createTestInvoker({ handlers: [LateReader] });
    const run = track(invoker.invokePipelineHandler('late_reader', {}, {}, { timeoutMs: 30 }));
    await jest.advanceTimersByTimeAsync(150);
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as Error).name).toBe('HandlerTimeoutError');
    // it settled within its grace: recorded TIMED_OUT once it had, keeping nothing of its late answer
    expect(run.value).toMatchObject({
      status: 'TIMED_OUT',
      handler_settled: true,
      body: expect.stringContaining('its handler stopped'),
    });
  });

  it('records a run the caller cancels through its own signal as CANCELLED (499) after the grace', async () => {
    fakeTime();
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler], config: { cancelGraceMs: 100 } });
    const controller = new AbortController();
    const startedMs = Date.now();
    const run = track(invoker.invokePipelineHandler('faulty', { mode: 'never' }, {}, { signal: controller.signal }));
    await jest.advanceTimersByTimeAsync(50);
    controller.abort(new Error('caller gave up'));
    await jest.advanceTimersByTimeAsync(99);
    expect(run.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    const record = run.value!;
    expect(record).toMatchObject({
      status: 'CANCELLED',
      status_code: 499,
      body: 'Run cancelled (the caller aborted); its handler did not settle within 100 ms and may still be running.',
      error: { name: 'RunCancelledError' },
      handler_settled: false,
    });
    expect(Date.parse(record.ended_at!) - startedMs).toBe(150);
    expect(store.all()).toEqual([record]);
  });

  it('leaves no listener on a caller signal reused for many runs (no MaxListenersExceededWarning), and still obeys it', async () => {
    const { invoker } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 20; i++) {
        const record = await invoker.invokePipelineHandler(
          'greet',
          { run_type: 'prod', name: `n${i}` },
          {},
          { signal: controller.signal },
        );
        expect(record.status).toBe('SUCCEEDED');
      }
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      const seen: { aborted: boolean; reason: unknown }[] = [];
      class Waits {
        async handle(_payload: unknown, context: RunContext): Promise<HandlerResult> {
          // the handler reads its signal only after the caller aborted: it is aborted, with the caller's reason
          await new Promise((resolve) => setImmediate(resolve));
          seen.push({ aborted: context.signal.aborted, reason: context.signal.reason });
          return { statusCode: 200, body: 'late' };
        }
      }
      pipelineHandler('waits')(Waits);
      const { invoker: second } = createTestInvoker({ handlers: [Waits], config: { cancelGraceMs: 1000 } });
      const run = second.invokePipelineHandler('waits', {}, {}, { signal: controller.signal });
      await new Promise((resolve) => setImmediate(resolve));
      controller.abort(new Error('caller gave up'));
      expect(await run).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
      expect(seen).toEqual([{ aborted: true, reason: new Error('caller gave up') }]);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('cancels every concurrent run sharing one caller signal (as a queue worker closing), holding one listener of it while they run', async () => {
    class Waits {
      async handle(_payload: unknown, context: RunContext): Promise<HandlerResult> {
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        return { statusCode: 200, body: 'stopped' };
      }
    }
    pipelineHandler('waits_for_abort')(Waits);
    const { invoker, store } = createTestInvoker({ handlers: [Waits], config: { cancelGraceMs: 1000 } });
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const runs = Array.from({ length: 16 }, (_, n) =>
        invoker.invokePipelineHandler('waits_for_abort', { n }, {}, { signal: controller.signal }),
      );
      while (store.all().filter((r) => r.status === 'RUNNING').length < 16)
        await new Promise((resolve) => setImmediate(resolve));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      controller.abort('the worker is closing');
      const records = await Promise.all(runs);
      expect(records.map((r) => r.status)).toEqual(Array(16).fill('CANCELLED'));
      for (const record of records)
        expect(record).toMatchObject({ status_code: 499, handler_settled: true, error: { name: 'RunCancelledError' } });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // a signal the runs ended on without it aborting keeps no listener either
      class Quick {
        handle(): HandlerResult {
          return { statusCode: 200, body: 'done' };
        }
      }
      pipelineHandler('quick')(Quick);
      const { invoker: second } = createTestInvoker({ handlers: [Quick] });
      const unused = new AbortController();
      const ends = Array.from({ length: 3 }, (_, n) =>
        second.invokePipelineHandler('quick', { n }, {}, { signal: unused.signal }),
      );
      expect((await Promise.all(ends)).map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      expect(getEventListeners(unused.signal, 'abort')).toHaveLength(0);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('refuses a payload that fails the handler schema with a 400 naming the field, and records nothing', async () => {
    const { invoker, store, tracker } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const attempt = invoker.invokePipelineHandler('greet', { run_type: 'daily', name: '' });
    await expect(attempt).rejects.toMatchObject({ name: 'InvalidRequestError' });
    await expect(attempt).rejects.toThrow(/Invalid payload for "greet"[\s\S]*run_type[\s\S]*name/);
    expect(store.all()).toEqual([]);
    expect(tracker.calls).toEqual([]);
  });

  it('refuses an invalid request before anything runs', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] });
    await expect(invoker.invokePipelineHandler('', {})).rejects.toThrow('service must not be empty');
    await expect(invoker.invokePipelineHandler('faulty', [1, 2])).rejects.toThrow('payload');
    expect(store.all()).toEqual([]);
  });

  it('throws UnknownServiceError only for a name that is not registered', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler, GreetHandler], ...withGreeting });
    await expect(invoker.invokePipelineHandler('nope', {})).rejects.toMatchObject({
      name: 'UnknownServiceError',
      availableServices: ['faulty', 'greet'],
    });
  });

  it('redacts secrets from the stored record (request metadata and handler metadata)', async () => {
    const { invoker, store } = createTestInvoker({
      handlers: [FaultyHandler],
      config: { env: { PERSPECTIVE_API_KEY: 'marker-secret-xyz' } },
    });
    const record = await invoker.invokePipelineHandler(
      'faulty',
      { mode: 'fine' },
      { api_key: 'abc', note: 'marker-secret-xyz' },
    );
    expect(JSON.stringify(store.all())).not.toContain('marker-secret-xyz');
    expect(record.request_metadata).toEqual({ api_key: '[REDACTED]', note: '[REDACTED]' });
    expect(JSON.parse(record.metadata)).toEqual({ token: '[REDACTED]', count: 3 });
  });
});

describe('idempotency', () => {
  it('returns the stored record for a key whose run SUCCEEDED, without running again', async () => {
    const { invoker, store, tracker } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const first = await invoker.invokePipelineHandler(
      'greet',
      { run_type: 'prod', name: 'a' },
      { request_id: 'job-7' },
    );
    const again = await invoker.invokePipelineHandler(
      'greet',
      { run_type: 'prod', name: 'a' },
      { request_id: 'job-7' },
    );
    expect(again).toEqual({ ...first, replayed: true });
    expect(first.replayed).toBeUndefined();
    expect(store.all()).toHaveLength(1);
    expect(tracker.finished).toHaveLength(1);
  });

  it('an explicit idempotencyKey wins over request_id', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    await invoker.invokePipelineHandler(
      'greet',
      { run_type: 'prod', name: 'a' },
      { request_id: 'r' },
      { idempotencyKey: 'k1' },
    );
    await invoker.invokePipelineHandler(
      'greet',
      { run_type: 'prod', name: 'a' },
      { request_id: 'r' },
      { idempotencyKey: 'k2' },
    );
    expect(store.all().map((r) => r.idempotency_key)).toEqual(['k1', 'k2']);
  });

  it('refuses a key whose run is still RUNNING with a conflict naming the run', async () => {
    fakeTime();
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler], config: { cancelGraceMs: 1000 } });
    const pending = track(
      invoker.invokePipelineHandler('faulty', { mode: 'never' }, {}, { idempotencyKey: 'busy', timeoutMs: 300 }),
    );
    await jest.advanceTimersByTimeAsync(50);
    const running = store.all()[0]!;
    const refused = invoker.invokePipelineHandler('faulty', { mode: 'never' }, {}, { idempotencyKey: 'busy' });
    await expect(refused).rejects.toMatchObject({ name: 'RunConflictError', runId: running.run_id });
    // the hint names the run that holds the key, the one `pipeline cancel` can stop
    await expect(refused).rejects.toThrow(`pipeline cancel ${running.run_id}`);
    // and the service the key belongs to (keys are scoped by service)
    await expect(refused).rejects.toThrow('A run of "faulty" with idempotency key "busy" is still RUNNING');
    await jest.advanceTimersByTimeAsync(250 + 1000);
    expect(pending.value?.status).toBe('TIMED_OUT');
    // a timed-out run does not block its key
    expect(
      (await invoker.invokePipelineHandler('faulty', { mode: 'fine' }, {}, { idempotencyKey: 'busy' })).status,
    ).toBe('SUCCEEDED');
  });

  it('treats a RUNNING record whose heartbeat is older than staleAfterMs as crashed and runs again', async () => {
    fakeTime();
    const store = new MemoryRunStore();
    const { invoker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      config: { staleAfterMs: 1000, heartbeatMs: 200 },
    });
    const now = new Date().toISOString();
    // a run whose process died: RUNNING, holding the key, never renewed again
    await new RunLifecycle(store).begin({
      service: 'faulty',
      timestamp: now,
      status_code: 0,
      body: '',
      metadata_table_name: 't',
      metadata: '{}',
      run_id: '01AAAAAAAAAAAAAAAAAAAAAAAA',
      status: 'RUNNING',
      started_at: now,
      heartbeat_at: now,
      handler_package: 'p',
      handler_version: '1',
      request_metadata: {},
      idempotency_key: 'stale',
    });
    jest.advanceTimersByTime(999);
    await expect(
      invoker.invokePipelineHandler('faulty', { mode: 'fine' }, {}, { idempotencyKey: 'stale' }),
    ).rejects.toMatchObject({ name: 'RunConflictError', runId: '01AAAAAAAAAAAAAAAAAAAAAAAA' });
    jest.advanceTimersByTime(1);
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'fine' }, {}, { idempotencyKey: 'stale' });
    expect(record.status).toBe('SUCCEEDED');
    expect(await store.get('01AAAAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({
      status: 'CRASHED',
      error: { name: 'RunCrashed', message: 'no heartbeat for 1 s' },
    });
  });

  it('a key another process keeps taking: RunConflictError names the run that holds it, never the refused one', async () => {
    // Between each read and write of the key, another process takes it (its runs' records not
    // yet written): every conditional write loses, and after its attempts the run is refused.
    const store = new MemoryRunStore();
    const putKey = store.putKey.bind(store);
    let competitor = 0;
    let lastHolder = '';
    store.putKey = async (item, when) => {
      lastHolder = `01COMPETITOR${String(++competitor).padStart(14, '0')}`;
      await putKey({ ...item, run_id: lastHolder, status: 'SUCCEEDED' }, [{ exists: true }, { exists: false }]);
      return putKey(item, when);
    };
    const { invoker } = createTestInvoker({ store, handlers: [FaultyHandler] });
    const refused = await invoker
      .invokePipelineHandler('faulty', { mode: 'fine' }, {}, { idempotencyKey: 'contended' })
      .catch((error: Error) => error);
    expect(competitor).toBeGreaterThan(1);
    expect(refused).toMatchObject({ name: 'RunConflictError', runId: lastHolder });
    expect((refused as Error).message).toContain(`pipeline cancel ${lastHolder}`);
    expect(store.all()).toEqual([]); // the refused run wrote nothing and ran nothing
  });

  it('scopes keys by service: the same request_id in svc_a then svc_b runs both handlers', async () => {
    const ran: string[] = [];
    class Named {
      async handle(_payload: unknown, context: RunContext): Promise<HandlerResult> {
        ran.push(context.service);
        return { statusCode: 200, body: `done by ${context.service}` };
      }
    }
    pipelineHandler('svc_a')(Named);
    class NamedB extends Named {}
    pipelineHandler('svc_b')(NamedB);
    const { invoker, store } = createTestInvoker({ handlers: [Named, NamedB] });
    const a = await invoker.invokePipelineHandler('svc_a', { run_type: 'prod' }, { request_id: 'r1' });
    const b = await invoker.invokePipelineHandler('svc_b', { run_type: 'prod' }, { request_id: 'r1' });
    expect(ran).toEqual(['svc_a', 'svc_b']);
    expect(b).toMatchObject({ service: 'svc_b', status: 'SUCCEEDED', body: 'done by svc_b', idempotency_key: 'r1' });
    expect(b.replayed).toBeUndefined();
    expect(b.run_id).not.toBe(a.run_id);
    // within one service the key still replays
    const again = await invoker.invokePipelineHandler('svc_b', { run_type: 'prod' }, { request_id: 'r1' });
    expect(again).toEqual({ ...b, replayed: true });
    expect(ran).toEqual(['svc_a', 'svc_b']);
    expect(store.all().map((r) => r.service)).toEqual(['svc_a', 'svc_b']);
  });
});

describe('timeouts settle like cancellations', () => {
  /** What happened, in order: the handler's side effects and the store's terminal record. */
  function sideEffectsHandler(service: string, events: string[], stopsWhenAborted: boolean) {
    class SideEffects {
      handle(_payload: unknown, context: RunContext): Promise<HandlerResult> {
        return new Promise((resolve) => {
          // it keeps writing for 15 s; a cooperative one stops 2 s after its signal aborts (flushing)
          const done = setTimeout(() => {
            events.push('side effect: wrote its output');
            resolve({ statusCode: 200, body: 'finished' });
          }, 15_000);
          if (stopsWhenAborted)
            context.signal.addEventListener('abort', () => {
              clearTimeout(done);
              setTimeout(() => {
                events.push('side effect: flushed and stopped');
                resolve({ statusCode: 200, body: 'stopped', metadata: { flushed: true } });
              }, 2000);
            });
        });
      }
    }
    pipelineHandler(service)(SideEffects);
    return SideEffects;
  }

  /** A store that notes each terminal record as it is written. */
  function notingStore(events: string[]): MemoryRunStore {
    const store = new MemoryRunStore();
    const putRun = store.putRun.bind(store);
    store.putRun = async (record, when) => {
      const result = await putRun(record, when);
      if (result.written && record.status !== 'RUNNING') events.push(`record: ${record.status}`);
      return result;
    };
    return store;
  }

  it('a handler that stops when aborted is recorded TIMED_OUT after it stopped (handler_settled: true)', async () => {
    fakeTime();
    const events: string[] = [];
    const store = notingStore(events);
    const { invoker } = createTestInvoker({ store, handlers: [sideEffectsHandler('stops', events, true)] });
    const startedMs = Date.now();
    const run = track(invoker.invokePipelineHandler('stops', {}, {}, { timeoutMs: 1000 }));
    await jest.advanceTimersByTimeAsync(2999);
    expect(events).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(events).toEqual(['side effect: flushed and stopped', 'record: TIMED_OUT']);
    expect(run.value).toMatchObject({ status: 'TIMED_OUT', handler_settled: true });
    expect(JSON.parse(run.value!.metadata)).toEqual({ flushed: true });
    expect(Date.parse(run.value!.ended_at!) - startedMs).toBe(3000);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(events).toHaveLength(2); // nothing after its record
  });

  it('a handler that ignores the abort is recorded after the grace with handler_settled: false, and its later side effects say so', async () => {
    fakeTime();
    const events: string[] = [];
    const store = notingStore(events);
    const { invoker } = createTestInvoker({
      store,
      handlers: [sideEffectsHandler('ignores', events, false)],
      config: { cancelGraceMs: 5000 },
    });
    const startedMs = Date.now();
    const run = track(invoker.invokePipelineHandler('ignores', {}, {}, { timeoutMs: 1000 }));
    await jest.advanceTimersByTimeAsync(1000 + 5000);
    expect(events).toEqual(['record: TIMED_OUT']);
    expect(run.value).toMatchObject({
      status: 'TIMED_OUT',
      handler_settled: false,
      body: expect.stringContaining('did not settle within 5000 ms and may still be running'),
    });
    expect(Date.parse(run.value!.ended_at!) - startedMs).toBe(6000);
    await jest.advanceTimersByTimeAsync(9000);
    expect(events).toEqual(['record: TIMED_OUT', 'side effect: wrote its output']);
    // the record stands: nothing the late handler returns replaces it
    expect(store.all()).toEqual([run.value]);
  });

  it('holdUntilSettled (a queue worker): the record is written after the grace, the call returns only once the handler settled', async () => {
    fakeTime();
    const events: string[] = [];
    const store = notingStore(events);
    const { invoker } = createTestInvoker({
      store,
      handlers: [sideEffectsHandler('held', events, false)],
      config: { cancelGraceMs: 5000 },
    });
    const run = track(invoker.invokePipelineHandler('held', {}, {}, { timeoutMs: 1000, holdUntilSettled: true }));
    await jest.advanceTimersByTimeAsync(6000);
    expect(events).toEqual(['record: TIMED_OUT']);
    expect(run.done).toBe(false); // the slot is still held
    await jest.advanceTimersByTimeAsync(8999);
    expect(run.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(events).toEqual(['record: TIMED_OUT', 'side effect: wrote its output']);
    expect(run.value).toMatchObject({ status: 'TIMED_OUT', handler_settled: false });
  });
});

describe('store and tracker failures', () => {
  /** The store refuses the next `failures` writes of a terminal record with a transient error. */
  function failingFinish(store: MemoryRunStore, failures: number): MemoryRunStore {
    const putRun = store.putRun.bind(store);
    let left = failures;
    store.putRun = async (record, when) => {
      if (record.status !== 'RUNNING' && left-- > 0)
        throw Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' });
      return putRun(record, when);
    };
    return store;
  }

  it('retries a transient store error on the final write', async () => {
    const store = failingFinish(new MemoryRunStore(), 2);
    const { invoker } = createTestInvoker({ store, handlers: [FaultyHandler], config: { storeRetryDelaysMs: [1, 1] } });
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'fine' });
    expect(store.all()).toEqual([record]);
  });

  it('keeps the record in the outbox and raises MetadataWriteError when the write keeps failing', async () => {
    const { Outbox } = await import('@pipeline-invocation/storage');
    const { join } = await import('node:path');
    const outbox = new Outbox(join(tempDir('outbox-'), 'outbox.jsonl'));
    const store = failingFinish(new MemoryRunStore(), 3);
    const { invoker, tracker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      config: { outbox, storeRetryDelaysMs: [1, 1] },
    });
    const attempt = invoker.invokePipelineHandler('faulty', { mode: 'fine' });
    await expect(attempt).rejects.toMatchObject({ name: 'MetadataWriteError', service: 'faulty' });
    await expect(attempt).rejects.toThrow(/kept in .*outbox\.jsonl/);
    expect(outbox.pending()).toHaveLength(1);
    expect(tracker.finished).toHaveLength(1);

    // the next invocation first replays the outbox: both records land, the first one once
    const next = await invoker.invokePipelineHandler('faulty', { mode: 'again' });
    expect(outbox.pending()).toEqual([]);
    expect(store.all().map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(store.all()[1]).toEqual(next);
  });

  it('refuses to run when the store cannot take the RUNNING record', async () => {
    const store = new MemoryRunStore();
    store.putRun = async () => {
      throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    };
    let ran = false;
    const { invoker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      config: { storeRetryDelaysMs: [] },
    });
    const original = FaultyHandler.prototype.handle;
    FaultyHandler.prototype.handle = async () => {
      ran = true;
      return { statusCode: 200, body: '' };
    };
    try {
      await expect(invoker.invokePipelineHandler('faulty', {})).rejects.toMatchObject({
        name: 'MetadataWriteError',
        message: expect.stringContaining('The handler was not run'),
      });
    } finally {
      FaultyHandler.prototype.handle = original;
    }
    expect(ran).toBe(false);
  });

  it('a tracker that throws never fails the run', async () => {
    const tracker = new RecordingTracker();
    tracker.start = async () => {
      throw new Error('wandb down');
    };
    tracker.finish = async () => {
      throw new Error('wandb down');
    };
    const { invoker, store } = createTestInvoker({ tracker, handlers: [FaultyHandler] });
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'fine' });
    expect(record.status).toBe('SUCCEEDED');
    expect(store.all()).toEqual([record]);
  });
});

describe('tracking switched off', () => {
  it('tracker: false makes no tracking calls and still records the run with its metrics', async () => {
    const store = new MemoryRunStore();
    const invoker = createInvoker({
      discover: false,
      outbox: false,
      env: {},
      logger: silentLogger,
      store,
      tracker: false,
      handlers: [GreetHandler],
      register: (c) => c.register(GREETING, { useValue: 'Hi' }),
    });
    const record = await invoker.invokePipelineHandler('greet', { run_type: 'prod', name: 'x' });
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.metadata).metrics).toEqual({ greeted: 1 });
    expect(store.all()).toEqual([record]);
  });
});

describe('runIntegrationRequest and routeAndRunIntegrationRequest', () => {
  it('accepts the seed collaborators as plain functions', async () => {
    const written: RunExecutionMetadata[] = [];
    const tracked: [string, string][] = [];
    const previous = { run_id: 'PREV' } as RunExecutionMetadata;
    const { invoker, store } = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    const record = await invoker.runIntegrationRequest(
      { service: 'greet', payload: { run_type: 'backfill', name: 'x' }, metadata: {} },
      {
        writeMetadata: (r) => void written.push(r),
        loadMetadata: async () => previous,
        trackRun: (service, r) => void tracked.push([service, r.status]),
      },
    );
    expect(written).toEqual([record]);
    expect(tracked).toEqual([['greet', 'SUCCEEDED']]);
    expect(JSON.parse(record.metadata).previous).toBe('PREV');
    expect(store.all()).toEqual([]);
  });

  it('routes every outcome to an IntegrationResponse and never throws', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler, GreetHandler], ...withGreeting });
    const ok = await invoker.routeAndRunIntegrationRequest({
      service: 'greet',
      payload: { run_type: 'prod', name: 'Z' },
      metadata: {},
    });
    expect(ok).toEqual({ service: 'greet', timestamp: expect.any(String), status_code: 200, body: 'Hello, Z' });
    const cases: [unknown, number][] = [
      [null, 400],
      [{ service: 'greet', payload: [] }, 400],
      [{ service: 'greet', payload: { run_type: 'x' } }, 400],
      [{ service: 'nope', payload: {} }, 404],
      [{ service: 'faulty', payload: { mode: 'throw' } }, 500],
      [{ service: 'faulty', payload: { mode: 'never' } }, 504],
    ];
    fakeTime(); // the handler that never finishes is given its 10 s grace after the timeout
    for (const [request, status] of cases) {
      const answer = track(invoker.routeAndRunIntegrationRequest(request, { timeoutMs: 50 }));
      await jest.advanceTimersByTimeAsync(50 + 10_000);
      const response = answer.value!;
      expect(response.status_code).toBe(status);
      expect(Number.isNaN(Date.parse(response.timestamp))).toBe(false);
      expect(response.body.length).toBeGreaterThan(0);
    }
  });
});

describe('testing kit', () => {
  it('gives each test invoker its own registry, store and tracker', async () => {
    const a = createTestInvoker({ handlers: [FaultyHandler] });
    const b = createTestInvoker({ handlers: [GreetHandler], ...withGreeting });
    expect(a.invoker.listServices()).toEqual(['faulty']);
    expect(b.invoker.listServices()).toEqual(['greet']);
    await a.invoker.invokePipelineHandler('faulty', {});
    expect(a.store.all()).toHaveLength(1);
    expect(b.store.all()).toHaveLength(0);
    const custom: RunStore = new MemoryRunStore();
    expect(createTestInvoker({ store: custom }).store).toBe(custom);
  });
});
