import { join } from 'node:path';
import { MemoryRunStore, SqliteRunStore } from '@pipeline-invocation/storage';
import type { InvokerConfig } from '@pipeline-invocation/invoker';
import { InvocationQueue, redisConnection, startWorker, type RunningWorker } from '../src';
import { handlersRunning, jobInvoker, testWorker } from './helpers/plugin';
import { Outbox } from '@pipeline-invocation/storage';
import { DynamoRunStore, createRunTable } from '@pipeline-invocation/storage/dynamodb';
import { RunLifecycle, pipelineHandler } from '@pipeline-invocation/core';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynalite } from '../../storage/tests/helpers/dynalite';
import { startFaultProxy, type FaultProxy } from '../../storage/tests/helpers/tcp-proxy';
import { startRedis, type LocalRedis } from './helpers/redis';
import { tempDir } from '../../../tests/support/temp-dir';

let redis: LocalRedis;
let queue: InvocationQueue;
const running: RunningWorker[] = [];

beforeEach(async () => {
  redis = await startRedis();
  queue = new InvocationQueue(redisConnection(redis.url));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.close(1000)));
  await queue.close();
  await redis.stop();
});

async function worker(name: string, config: InvokerConfig = {}, concurrency = 4) {
  const w = await testWorker(jobInvoker(name, config), redis.url, concurrency);
  running.push(w);
  return w;
}

const request = (payload: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
  service: 'job_service',
  payload,
  metadata,
});

describe('enqueueInvocation', () => {
  it('refuses a request that fails validation before it reaches the queue', async () => {
    await expect(queue.enqueue({ service: '', payload: [] })).rejects.toMatchObject({ name: 'InvalidRequestError' });
    await expect(queue.enqueue({ service: 'job_service', payload: {}, extra: 1 })).rejects.toThrow('extra');
    expect(await queue.stats(['job_service'])).toEqual([
      { service: 'job_service', waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 },
    ]);
  });

  it('does not queue a duplicate idempotency key twice', async () => {
    const store = new MemoryRunStore();
    const first = await queue.enqueue(request({}, { request_id: 'daily:2026-11-22' }));
    const second = await queue.enqueue(request({}, { request_id: 'daily:2026-11-22' }));
    const third = await queue.enqueue(request(), { idempotencyKey: 'daily:2026-11-22' });
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect((await queue.stats(['job_service']))[0]!.waiting).toBe(1);
    await worker('w1', { store });
    expect((await queue.waitForRun(first, { timeoutMs: 10_000 })).status).toBe('SUCCEEDED');
    expect(store.all()).toHaveLength(1);
    expect(store.all()[0]!.idempotency_key).toBe('daily:2026-11-22');
  });
});

describe('idempotency keys on the queue follow the run store rules', () => {
  it('re-queueing a FAILED request runs it again; another payload under a standing key is refused', async () => {
    const store = new MemoryRunStore();
    await worker('w1', { store });
    const key = { idempotencyKey: 'nightly-7' };
    const first = await queue.enqueue(request({ mode: 'fail' }), key);
    expect((await queue.waitForRun(first, { timeoutMs: 10_000 })).status).toBe('FAILED');
    // the same request again: a FAILED key runs again, on the queue as in-process
    const second = await queue.enqueue(request({ mode: 'fail' }), key);
    expect((await queue.waitForRun(second, { timeoutMs: 10_000 })).status).toBe('FAILED');
    expect(store.all().map((r) => r.status)).toEqual(['FAILED', 'FAILED']);
    // a failed key may run with another payload too, and then it stands for that payload
    const third = await queue.enqueue(request({ n: 1 }), key);
    const succeeded = await queue.waitForRun(third, { timeoutMs: 10_000 });
    expect(succeeded.status).toBe('SUCCEEDED');
    expect(await queue.enqueue(request({ n: 1 }), key)).toBe(third);
    await expect(queue.enqueue(request({ n: 2 }), key)).rejects.toMatchObject({ name: 'IdempotencyKeyMismatchError' });
    expect(store.all()).toHaveLength(3);
  });
});

describe('a final write that fails after the handler ran', () => {
  let proxy: FaultProxy;
  let handlerRuns = 0;

  /** Succeeds, but cuts the store off while it runs: the RUNNING write lands, the final one cannot. */
  @pipelineHandler('cut_service')
  class CutStoreHandler {
    async handle() {
      handlerRuns += 1;
      proxy.mode = 'refuse';
      return { statusCode: 200, body: 'labelled 10 posts' };
    }
  }

  it('completes the job with the record kept in the outbox: the handler ran once', async () => {
    const dynamo = await startDynalite();
    proxy = await startFaultProxy(dynamo.port);
    await createRunTable(dynamo.client(), 'runs');
    const client = new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 2,
    });
    const store = new DynamoRunStore(client, 'runs');
    const outbox = new Outbox(join(tempDir('worker-outbox-'), 'outbox.jsonl'));
    try {
      await worker('w1', { store, outbox, handlers: [CutStoreHandler], plugins: [] });
      const job = await queue.enqueue(
        { service: 'cut_service', payload: {}, metadata: {} },
        { attempts: 3, backoffMs: 50 },
      );
      const record = await queue.waitForRun(job, { timeoutMs: 20_000 });
      expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'labelled 10 posts' });
      expect(handlerRuns).toBe(1);
      expect((await queue.stats(['cut_service']))[0]).toMatchObject({
        completed: 1,
        failed: 0,
        waiting: 0,
        delayed: 0,
      });
      expect(outbox.pending()).toEqual([record]);
      // the job is completed (not waiting, delayed or failed): it is never retried
      expect(await queue.queue('cut_service').getJobState(job.split('/')[1]!)).toBe('completed');
      // the store is back: the kept record lands, over the RUNNING one, exactly once
      proxy.mode = 'forward';
      expect(await outbox.flush(new RunLifecycle(store))).toMatchObject({ written: 1, remaining: 0 });
      expect((await store.list({ limit: 10 })).items).toEqual([record]);
    } finally {
      await store.close();
      await proxy.close();
      await dynamo.stop();
    }
  });
});

describe('workers', () => {
  it('runs 200 jobs across 2 workers, each recorded exactly once in the shared SQLite store', async () => {
    const file = join(tempDir('worker-runs-'), 'runs.db');
    const handles = await Promise.all(Array.from({ length: 200 }, (_, n) => queue.enqueue(request({ n }))));
    await worker('w1', { store: new SqliteRunStore(file) });
    await worker('w2', { store: new SqliteRunStore(file) });
    const records = await Promise.all(handles.map((h) => queue.waitForRun(h, { timeoutMs: 30_000 })));
    expect(records.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    expect(new Set(records.map((r) => r.body)).size).toBe(200);
    const byWorker = records.reduce<Record<string, number>>((acc, r) => {
      const name = JSON.parse(r.metadata).worker as string;
      acc[name] = (acc[name] ?? 0) + 1;
      return acc;
    }, {});
    expect(Object.keys(byWorker).sort()).toEqual(['w1', 'w2']);
    const stored = await new SqliteRunStore(file).list({ limit: 1000 });
    expect(stored.items).toHaveLength(200);
    expect(new Set(stored.items.map((r) => r.run_id)).size).toBe(200);
    expect((await queue.stats(['job_service']))[0]).toMatchObject({ completed: 200, failed: 0, waiting: 0 });
  }, 60_000);

  it('records a handler failure once and does not retry it', async () => {
    const store = new MemoryRunStore();
    await worker('w1', { store });
    const handle = await queue.enqueue(request({ mode: 'fail' }), { attempts: 3, backoffMs: 10 });
    const record = await queue.waitForRun(handle, { timeoutMs: 10_000 });
    expect(record).toMatchObject({ status: 'FAILED', body: 'Handler failed: handler exploded' });
    expect(store.all()).toHaveLength(1);
    expect((await queue.stats(['job_service']))[0]).toMatchObject({ failed: 1, completed: 0 });
  });

  it('retries a failure the handler marked retryable, one record per attempt', async () => {
    const store = new MemoryRunStore();
    await worker('w1', { store });
    const handle = await queue.enqueue(request({ mode: 'retryable' }), { attempts: 3, backoffMs: 10 });
    const record = await queue.waitForRun(handle, { timeoutMs: 10_000 });
    expect(record.error).toMatchObject({ retryable: true });
    expect(store.all().map((r) => r.status)).toEqual(['FAILED', 'FAILED', 'FAILED']);
  });

  it('retries an infrastructure failure (the store down) and then records the run once', async () => {
    const store = new MemoryRunStore();
    const putRun = store.putRun.bind(store);
    let failures = 2;
    // the RUNNING record cannot be written twice: the handler does not run, the job is retried
    store.putRun = async (record, when) => {
      if (record.status === 'RUNNING' && failures-- > 0)
        throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      return putRun(record, when);
    };
    await worker('w1', { store });
    const handle = await queue.enqueue(request({ n: 1 }), { attempts: 3, backoffMs: 10 });
    expect((await queue.waitForRun(handle, { timeoutMs: 10_000 })).status).toBe('SUCCEEDED');
    expect(store.all()).toHaveLength(1);
  });

  it('timed-out handlers that ignore their signal hold their slot: with concurrency 1, never two handlers at once', async () => {
    const store = new MemoryRunStore();
    Object.assign(handlersRunning, { now: 0, max: 0, started: 0 });
    // each handler times out after 100 ms, is recorded after its 50 ms grace, and goes on for 600 ms
    await worker('w1', { store, cancelGraceMs: 50 }, 1);
    const handles = await Promise.all(
      [1, 2, 3].map((n) => queue.enqueue(request({ mode: 'sleep', ms: 600, n }), { timeoutMs: 100 })),
    );
    const records = await Promise.all(handles.map((h) => queue.waitForRun(h, { timeoutMs: 20_000 })));
    expect(records.map((r) => [r.status, r.handler_settled])).toEqual([
      ['TIMED_OUT', false],
      ['TIMED_OUT', false],
      ['TIMED_OUT', false],
    ]);
    expect(handlersRunning).toMatchObject({ started: 3, max: 1 });
    // each run started only after the previous handler had settled (600 ms after it started)
    const starts = store.all().map((r) => Date.parse(r.started_at));
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(600);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(600);
  }, 30_000);

  it('a force-closing worker cancels its jobs (their runs end CANCELLED) and another worker runs them again', async () => {
    const store = new MemoryRunStore();
    const closing = await testWorker(jobInvoker('w1', { store }), redis.url, 1);
    const handle = await queue.enqueue(request({ mode: 'cooperative-sleep', ms: 1500 }), {
      attempts: 2,
      backoffMs: 10,
    });
    for (let i = 0; i < 250 && store.all().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.all().map((r) => r.status)).toEqual(['RUNNING']);
    await closing.close(100); // the job does not finish within 100 ms: its run is told to stop
    const [cancelled] = store.all();
    expect(cancelled).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
    expect(JSON.parse(cancelled!.metadata)).toEqual({ worker: 'w1' });
    // the job went back to the queue: the next worker runs it to the end
    await worker('w2', { store });
    const record = await queue.waitForRun(handle, { timeoutMs: 20_000 });
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'done' });
    expect(JSON.parse(record.metadata)).toEqual({ worker: 'w2' });
    expect(store.all().map((r) => [r.status, r.job_id])).toEqual([
      ['CANCELLED', handle],
      ['SUCCEEDED', handle],
    ]);
  }, 30_000);

  it('keeps working when Redis restarts during a run, and the run is still recorded', async () => {
    const store = new MemoryRunStore();
    await worker('w1', { store });
    await queue.enqueue(request({ mode: 'sleep', ms: 800, n: 1 }));
    for (let i = 0; i < 50 && store.all().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.all()[0]?.status).toBe('RUNNING');
    await redis.restart(); // no persistence: the queue's state is gone, the run goes on
    for (let i = 0; i < 100 && store.all()[0]?.status === 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.all()[0]?.status).toBe('SUCCEEDED');
    const after = await queue.enqueue(request({ n: 2 }));
    expect((await queue.waitForRun(after, { timeoutMs: 15_000 })).body).toBe('done 2');
  }, 30_000);

  it('refuses to serve services it does not have', async () => {
    await expect(
      startWorker({ invoker: jobInvoker('w'), services: ['nope'], connection: redisConnection(redis.url) }),
    ).rejects.toThrow('unknown service(s) nope; installed: job_service');
  });
});
