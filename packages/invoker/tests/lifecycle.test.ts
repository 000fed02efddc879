import {
  RunLifecycle,
  payloadHash,
  pipelineHandler,
  type HandlerResult,
  type RunContext,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { MemoryRunStore, createTestInvoker } from '../src/testing';
import { FaultyHandler } from './helpers/handlers';

/** Returns the metadata it is given in the payload's `kind`. */
@pipelineHandler('odd_metadata')
class OddMetadataHandler {
  handle(event: { kind: string }): HandlerResult {
    const values: Record<string, unknown> = {
      bigint: { totals: { posts: 12n } },
      map: { counts: new Map([['a', 1]]) },
      set: { seen: new Set(['x']) },
      instance: { when: new (class Window {})() },
      date: { at: new Date('2026-11-28T10:00:00.000Z'), items: [1, undefined] },
    };
    return { statusCode: 200, body: 'done', metadata: values[event.kind] as Record<string, unknown> };
  }
}

/** Runs until aborted; then settles after `settleMs`, reporting how far it got. */
@pipelineHandler('cooperative')
class CooperativeHandler {
  static ran = 0;
  handle(event: { settleMs?: number }, context: RunContext): Promise<HandlerResult> {
    CooperativeHandler.ran += 1;
    return new Promise((resolve) => {
      context.signal.addEventListener('abort', () => {
        setTimeout(
          () => resolve({ statusCode: 200, body: 'stopped', metadata: { pages_done: 3 } }),
          event.settleMs ?? 0,
        );
      });
    });
  }
}

/** Jest's fake timers drive the invoker's clock (the system clock looks the globals up at call time). */
const fakeTime = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
afterEach(() => jest.useRealTimers());

/** A promise's outcome once it has one, read without awaiting it. */
function track<T>(promise: Promise<T>): { value?: T; done: boolean } {
  const state: { value?: T; done: boolean } = { done: false };
  void promise.then((value) => Object.assign(state, { value, done: true }));
  return state;
}

/** Start a CooperativeHandler run on a heartbeat of `heartbeatMs` (fake timers) once its RUNNING record is stored. */
async function startCooperative(heartbeatMs: number, signal?: AbortSignal) {
  fakeTime();
  const { invoker, store } = createTestInvoker({
    handlers: [CooperativeHandler],
    config: { heartbeatMs, staleAfterMs: 6 * heartbeatMs },
  });
  const run = track(invoker.invokePipelineHandler('cooperative', {}, {}, { signal }));
  await jest.advanceTimersByTimeAsync(0);
  expect(store.all().map((r) => r.status)).toEqual(['RUNNING']);
  return { run, store, running: store.all()[0]! };
}

describe('cancellation', () => {
  it('a signal aborted before the start runs nothing, writes nothing and throws AbortError', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const before = CooperativeHandler.ran;
    const signal = AbortSignal.abort(new Error('user left'));
    await expect(invoker.invokePipelineHandler('cooperative', {}, {}, { signal })).rejects.toMatchObject({
      name: 'AbortError',
      message: expect.stringContaining('nothing ran'),
    });
    expect(store.all()).toEqual([]);
    expect(CooperativeHandler.ran).toBe(before);
  });

  it('a signal aborted after the RUNNING write gives a CANCELLED record, the handler never started', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const before = CooperativeHandler.ran;
    const controller = new AbortController();
    const record = await invoker.invokePipelineHandler(
      'cooperative',
      {},
      {},
      { signal: controller.signal, onRunStarted: () => controller.abort() },
    );
    expect(record).toMatchObject({
      status: 'CANCELLED',
      status_code: 499,
      body: expect.stringContaining('before its handler started'),
    });
    expect(store.all()).toEqual([record]);
    expect(CooperativeHandler.ran).toBe(before);
  });

  it('a signal aborted while the RUNNING record is being written still cancels the run', async () => {
    const store = new MemoryRunStore();
    const controller = new AbortController();
    const putRun = store.putRun.bind(store);
    store.putRun = async (record, when) => {
      const result = await putRun(record, when);
      if (record.status === 'RUNNING') controller.abort(); // the caller gives up just as the write lands
      return result;
    };
    const { invoker } = createTestInvoker({ store, handlers: [CooperativeHandler] });
    const before = CooperativeHandler.ran;
    const record = await invoker.invokePipelineHandler('cooperative', {}, {}, { signal: controller.signal });
    expect(record).toMatchObject({ status: 'CANCELLED', body: expect.stringContaining('before its handler started') });
    expect(CooperativeHandler.ran).toBe(before);
  });

  it('waits for a cooperative handler to settle and keeps what it reported', async () => {
    fakeTime();
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const controller = new AbortController();
    const run = track(
      invoker.invokePipelineHandler('cooperative', { settleMs: 50 }, {}, { signal: controller.signal }),
    );
    await jest.advanceTimersByTimeAsync(30);
    controller.abort();
    await jest.advanceTimersByTimeAsync(49);
    expect(run.done).toBe(false); // still settling: nothing recorded yet
    expect(store.all()[0]?.status).toBe('RUNNING');
    await jest.advanceTimersByTimeAsync(1);
    await jest.advanceTimersByTimeAsync(1); // the handler settles on its next tick (a 0 ms timer)
    const record = run.value!;
    expect(record).toMatchObject({
      status: 'CANCELLED',
      body: 'Run cancelled (the caller aborted); its handler stopped.',
      handler_settled: true,
    });
    expect(JSON.parse(record.metadata)).toEqual({ pages_done: 3 });
    expect(store.all()).toEqual([record]);
  });

  it('a second (force) signal stops waiting for the handler at once', async () => {
    fakeTime();
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler], config: { cancelGraceMs: 60_000 } });
    const cancel = new AbortController();
    const force = new AbortController();
    const startedMs = Date.now();
    const run = track(
      invoker.invokePipelineHandler(
        'faulty',
        { mode: 'never' },
        {},
        { signal: cancel.signal, forceSignal: force.signal },
      ),
    );
    await jest.advanceTimersByTimeAsync(20);
    cancel.abort();
    await jest.advanceTimersByTimeAsync(40);
    expect(run.done).toBe(false);
    force.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(run.value).toMatchObject({
      status: 'CANCELLED',
      handler_settled: false,
      body: expect.stringContaining('stopped waiting for its handler after 40 ms'),
    });
    expect(Date.parse(run.value!.ended_at!) - startedMs).toBe(60);
  });

  it('a cancel request written to the store (as `pipeline cancel` does) stops the run at its next heartbeat', async () => {
    const { run, store, running } = await startCooperative(1000);
    await jest.advanceTimersByTimeAsync(300);
    expect((await new RunLifecycle(store).requestCancel(running.run_id))?.cancel_requested_at).toBeDefined();
    await jest.advanceTimersByTimeAsync(699);
    expect(run.done).toBe(false); // seen at the next heartbeat, not before
    await jest.advanceTimersByTimeAsync(1);
    await jest.advanceTimersByTimeAsync(1); // the handler settles on its next tick (a 0 ms timer)
    const record = run.value!;
    expect(record).toMatchObject({
      run_id: running.run_id,
      status: 'CANCELLED',
      body: expect.stringContaining('cancel requested'),
    });
  });
});

describe('heartbeat', () => {
  it('renews heartbeat_at while the handler runs', async () => {
    const controller = new AbortController();
    const { run, store, running } = await startCooperative(1000, controller.signal);
    const startedMs = Date.parse(running.heartbeat_at!);
    await jest.advanceTimersByTimeAsync(999);
    expect(store.all()[0]!.heartbeat_at).toBe(running.heartbeat_at);
    await jest.advanceTimersByTimeAsync(1);
    expect(Date.parse(store.all()[0]!.heartbeat_at!) - startedMs).toBe(1000);
    await jest.advanceTimersByTimeAsync(1000);
    expect(Date.parse(store.all()[0]!.heartbeat_at!) - startedMs).toBe(2000);
    controller.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(run.value?.status).toBe('CANCELLED');
  });

  it('a live run marked CRASHED elsewhere (its heartbeats failed) is aborted, and its own final record replaces the presumption', async () => {
    const { run, store, running } = await startCooperative(1000);
    // its heartbeats do not land (the store is unreachable from its host): another process sees it stale
    const updateRun = store.updateRun.bind(store);
    let reachable = false;
    store.updateRun = async (...args) => {
      if (!reachable) throw Object.assign(new Error('unreachable'), { code: 'ETIMEDOUT' });
      return updateRun(...args);
    };
    await jest.advanceTimersByTimeAsync(6000);
    const other = new RunLifecycle(store, { staleAfterMs: 6000 });
    const marked = await other.markCrashed(running, { name: 'RunCrashed', body: 'marked by another process' });
    expect(marked).toMatchObject({ crashed: true });
    const crashed = store.all()[0]!;
    expect(crashed).toMatchObject({ status: 'CRASHED', body: 'marked by another process' });
    reachable = true; // the next heartbeat reads the CRASHED record: the run is aborted
    await jest.advanceTimersByTimeAsync(1000);
    await jest.advanceTimersByTimeAsync(1); // the handler settles on its next tick (a 0 ms timer)
    const record = run.value!;
    expect(record).toMatchObject({
      run_id: running.run_id,
      status: 'CANCELLED',
      body: 'Run cancelled (the run was ended elsewhere as CRASHED); its handler stopped.',
      handler_settled: true,
    });
    // the truth (it was alive, and stopped) replaces the presumption that it crashed; nothing else does
    expect(store.all()).toEqual([record]);
    expect(Date.parse(record.ended_at!)).toBeGreaterThan(Date.parse(crashed.ended_at!));
  });
});

describe('metadata', () => {
  it.each([
    ['bigint', 'a BigInt at metadata.totals.posts'],
    ['map', 'a Map at metadata.counts'],
    ['set', 'a Set at metadata.seen'],
    ['instance', 'an instance of Window at metadata.when'],
  ])('a %s in metadata fails the run naming the value, never a silent {} or a RUNNING record', async (kind, named) => {
    const { invoker, store } = createTestInvoker({ handlers: [OddMetadataHandler] });
    const record = await invoker.invokePipelineHandler('odd_metadata', { kind });
    expect(record).toMatchObject({
      status: 'FAILED',
      status_code: 500,
      error: { name: 'UnserializableMetadataError' },
      body: expect.stringContaining(named),
    });
    expect(store.all()).toEqual([record]);
  });

  it('stores a Date as its ISO string', async () => {
    const { invoker } = createTestInvoker({ handlers: [OddMetadataHandler] });
    const record = await invoker.invokePipelineHandler('odd_metadata', { kind: 'date' });
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.metadata)).toEqual({ at: '2026-11-28T10:00:00.000Z', items: [1, null] });
  });
});

describe('handler construction', () => {
  it('a lazy factory that hangs is inside the timeout: TIMED_OUT, never a hang', async () => {
    fakeTime();
    const { invoker, store } = createTestInvoker({ config: { cancelGraceMs: 1000 } });
    invoker.registry.register('slow_factory', () => new Promise(() => {}));
    const run = track(invoker.invokePipelineHandler('slow_factory', {}, {}, { timeoutMs: 100 }));
    await jest.advanceTimersByTimeAsync(100 + 1000);
    const record = run.value!;
    expect(record).toMatchObject({ status: 'TIMED_OUT', status_code: 504, handler_settled: false });
    expect(store.all()).toEqual([record]);
  });

  it('a factory that throws gives a FAILED record', async () => {
    const { invoker, store } = createTestInvoker();
    invoker.registry.register('broken_factory', () => {
      throw new Error('missing credentials');
    });
    const record = await invoker.invokePipelineHandler('broken_factory', {});
    expect(record).toMatchObject({ status: 'FAILED', body: 'Handler failed: missing credentials' });
    expect(store.all()).toEqual([record]);
  });
});

describe('idempotency rules', () => {
  it('refuses the same key with another payload, naming both runs', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [FaultyHandler] });
    const first = await invoker.invokePipelineHandler('faulty', { mode: 'a' }, {}, { idempotencyKey: 'k' });
    const refused = invoker.invokePipelineHandler('faulty', { mode: 'b' }, {}, { idempotencyKey: 'k' });
    await expect(refused).rejects.toMatchObject({
      name: 'IdempotencyKeyMismatchError',
      existingRunId: first.run_id,
      message: expect.stringContaining(first.run_id),
    });
    expect(store.all()).toEqual([first]);
    // the same payload (keys in another order) replays
    const replay = await invoker.invokePipelineHandler('faulty', { mode: 'a' }, {}, { idempotencyKey: 'k' });
    expect(replay).toEqual({ ...first, replayed: true });
  });

  it('a CANCELLED key runs again', async () => {
    fakeTime();
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const controller = new AbortController();
    const cancelled = track(
      invoker.invokePipelineHandler('cooperative', {}, {}, { idempotencyKey: 'c', signal: controller.signal }),
    );
    await jest.advanceTimersByTimeAsync(20);
    controller.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(cancelled.value?.status).toBe('CANCELLED');
    const again = new AbortController();
    const second = track(
      invoker.invokePipelineHandler('cooperative', {}, {}, { idempotencyKey: 'c', signal: again.signal }),
    );
    await jest.advanceTimersByTimeAsync(20);
    again.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(second.value?.run_id).not.toBe(cancelled.value?.run_id);
    expect(store.all().map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('a fresh RUNNING holder conflicts (with its heartbeat age); a stale one is marked CRASHED', async () => {
    fakeTime();
    const store = new MemoryRunStore();
    let nowMs = Date.parse('2026-11-28T12:00:00.000Z');
    jest.setSystemTime(nowMs);
    const { invoker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      config: { heartbeatMs: 10_000, staleAfterMs: 60_000 },
    });
    const holder = { run_id: '01AAAAAAAAAAAAAAAAAAAAAAAA', service: 'faulty' };
    const at = (ms: number) => new Date(ms).toISOString();
    // a holder whose last heartbeat was 30 s ago (written through the lifecycle, as its process did)
    await new RunLifecycle(store).begin({
      ...holder,
      timestamp: at(nowMs),
      status_code: 0,
      body: '',
      metadata_table_name: 't',
      metadata: '{}',
      status: 'RUNNING',
      started_at: at(nowMs - 3_600_000),
      heartbeat_at: at(nowMs - 30_000),
      handler_package: 'p',
      handler_version: '1',
      request_metadata: {},
      idempotency_key: 'held',
      payload_hash: payloadHash({ mode: 'x' }),
    });
    await expect(
      invoker.invokePipelineHandler('faulty', { mode: 'x' }, {}, { idempotencyKey: 'held' }),
    ).rejects.toMatchObject({ name: 'RunConflictError', runId: holder.run_id, heartbeatAgeMs: 30_000 });
    // a live holder keeps its key from another payload too
    await expect(
      invoker.invokePipelineHandler('faulty', { mode: 'other' }, {}, { idempotencyKey: 'held' }),
    ).rejects.toMatchObject({ name: 'IdempotencyKeyMismatchError', existingRunId: holder.run_id });
    nowMs += 31_000;
    jest.setSystemTime(nowMs); // the heartbeat is now 61 s old: the dead holder frees its key, whatever its payload
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'other' }, {}, { idempotencyKey: 'held' });
    expect(record.status).toBe('SUCCEEDED');
    expect(await store.get(holder.run_id)).toMatchObject({
      status: 'CRASHED',
      error: { name: 'RunCrashed', message: 'no heartbeat for 61 s' },
    });
  });
});
