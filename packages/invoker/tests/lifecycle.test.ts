import {
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

const waitFor = async (check: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Start a CooperativeHandler run on a fast heartbeat and wait until its RUNNING record is stored. */
async function startCooperative(heartbeatMs: number, signal?: AbortSignal) {
  const { invoker, store } = createTestInvoker({
    handlers: [CooperativeHandler],
    config: { heartbeatMs, staleAfterMs: 1000 },
  });
  const run = invoker.invokePipelineHandler('cooperative', {}, {}, { signal });
  await waitFor(() => store.all().length === 1);
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
    const begin = store.begin.bind(store);
    store.begin = async (record) => {
      const result = await begin(record);
      controller.abort(); // the caller gives up just as the write lands
      return result;
    };
    const { invoker } = createTestInvoker({ store, handlers: [CooperativeHandler] });
    const before = CooperativeHandler.ran;
    const record = await invoker.invokePipelineHandler('cooperative', {}, {}, { signal: controller.signal });
    expect(record).toMatchObject({ status: 'CANCELLED', body: expect.stringContaining('before its handler started') });
    expect(CooperativeHandler.ran).toBe(before);
  });

  it('waits for a cooperative handler to settle and keeps what it reported', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const record = await invoker.invokePipelineHandler(
      'cooperative',
      { settleMs: 50 },
      {},
      { signal: controller.signal },
    );
    expect(record).toMatchObject({
      status: 'CANCELLED',
      body: 'Run cancelled (the caller aborted); its handler stopped.',
    });
    expect(JSON.parse(record.metadata)).toEqual({ pages_done: 3 });
    expect(store.all()).toEqual([record]);
  });

  it('a second (force) signal stops waiting for the handler at once', async () => {
    const { invoker } = createTestInvoker({ handlers: [FaultyHandler], config: { cancelGraceMs: 60_000 } });
    const cancel = new AbortController();
    const force = new AbortController();
    setTimeout(() => cancel.abort(), 20);
    setTimeout(() => force.abort(), 60);
    const started = Date.now();
    const record = await invoker.invokePipelineHandler(
      'faulty',
      { mode: 'never' },
      {},
      { signal: cancel.signal, forceSignal: force.signal },
    );
    expect(record.status).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a cancel request written to the store (as `pipeline cancel` does) stops the run at its next heartbeat', async () => {
    const { run, store, running } = await startCooperative(25);
    await store.requestCancel(running.run_id, new Date().toISOString());
    const record = await run;
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
    const { run, store, running } = await startCooperative(20, controller.signal);
    const first = running.heartbeat_at!;
    await waitFor(() => store.all()[0]!.heartbeat_at! > first);
    controller.abort();
    expect((await run).status).toBe('CANCELLED');
  });

  it('a run marked CRASHED elsewhere while it runs is aborted, and that first terminal record stands', async () => {
    const { run, store, running } = await startCooperative(20);
    const crashed: RunExecutionMetadata = {
      ...running,
      status: 'CRASHED',
      status_code: 500,
      body: 'marked by another process',
      ended_at: new Date().toISOString(),
    };
    await store.finish(crashed);
    const record = await run;
    expect(record).toEqual(crashed);
    expect(store.all()).toEqual([crashed]);
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
    const { invoker, store } = createTestInvoker();
    invoker.registry.register('slow_factory', () => new Promise(() => {}));
    const record = await invoker.invokePipelineHandler('slow_factory', {}, {}, { timeoutMs: 100 });
    expect(record).toMatchObject({ status: 'TIMED_OUT', status_code: 504 });
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
    const { invoker, store } = createTestInvoker({ handlers: [CooperativeHandler] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const cancelled = await invoker.invokePipelineHandler(
      'cooperative',
      {},
      {},
      { idempotencyKey: 'c', signal: controller.signal },
    );
    expect(cancelled.status).toBe('CANCELLED');
    const again = new AbortController();
    setTimeout(() => again.abort(), 20);
    const second = await invoker.invokePipelineHandler(
      'cooperative',
      {},
      {},
      { idempotencyKey: 'c', signal: again.signal },
    );
    expect(second.run_id).not.toBe(cancelled.run_id);
    expect(store.all().map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('a fresh RUNNING holder conflicts (with its heartbeat age); a stale one is marked CRASHED', async () => {
    const store = new MemoryRunStore();
    let nowMs = Date.parse('2026-11-28T12:00:00.000Z');
    const { invoker } = createTestInvoker({
      store,
      handlers: [FaultyHandler],
      config: { clock: { now: () => nowMs }, heartbeatMs: 10_000, staleAfterMs: 60_000 },
    });
    const holder = { run_id: '01AAAAAAAAAAAAAAAAAAAAAAAA', service: 'faulty' };
    const at = (ms: number) => new Date(ms).toISOString();
    await store.begin({
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
    nowMs += 31_000; // the heartbeat is now 61 s old: the dead holder frees its key, whatever its payload
    const record = await invoker.invokePipelineHandler('faulty', { mode: 'other' }, {}, { idempotencyKey: 'held' });
    expect(record.status).toBe('SUCCEEDED');
    expect(await store.get(holder.run_id)).toMatchObject({
      status: 'CRASHED',
      error: { name: 'RunCrashed', message: 'no heartbeat for 61 s' },
    });
  });
});
