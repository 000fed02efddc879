import { MemoryRunStore } from '@pipeline-invocation/storage';
import { runningRecord } from '../../storage/tests/helpers/records';
import { InvocationQueue, cancelQueuedJob, redisConnection, type RunningWorker } from '../src';
import { jobInvoker, testWorker } from './helpers/plugin';
import { startRedis, type LocalRedis } from './helpers/redis';

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

describe('pipeline cancel of a queued job', () => {
  it('removes a job no worker has started: it never runs', async () => {
    const store = new MemoryRunStore();
    const invoker = jobInvoker('w1', { store });
    const handle = await queue.enqueue({ service: 'job_service', payload: {}, metadata: {} });
    const result = await cancelQueuedJob(queue, await invoker.runLifecycle(), handle);
    expect(result).toEqual({ outcome: 'removed', state: 'waiting' });
    expect((await queue.stats(['job_service']))[0]).toMatchObject({ waiting: 0, active: 0 });
    // a worker that starts afterwards finds nothing to run
    running.push(await testWorker(invoker, redis.url, 1));
    expect(await cancelQueuedJob(queue, await invoker.runLifecycle(), handle)).toEqual({ outcome: 'unknown' });
    expect(store.all()).toEqual([]);
  });

  it('asks the run of a job a worker is running to stop: CANCELLED at its next heartbeat', async () => {
    const store = new MemoryRunStore();
    const invoker = jobInvoker('w1', { store, heartbeatMs: 50, cancelGraceMs: 100 });
    running.push(await testWorker(invoker, redis.url, 1));
    const handle = await queue.enqueue({ service: 'job_service', payload: { mode: 'sleep', ms: 1500 }, metadata: {} });
    const lifecycle = await invoker.runLifecycle();
    let result = await cancelQueuedJob(queue, lifecycle, handle);
    for (let i = 0; i < 200 && result.outcome !== 'cancel-requested'; i++) {
      // the worker has the job but its RUNNING record is not written yet: ask again
      await new Promise((resolve) => setImmediate(resolve));
      result = await cancelQueuedJob(queue, lifecycle, handle);
    }
    expect(result.outcome).toBe('cancel-requested');
    const record = await queue.waitForRun(handle, { timeoutMs: 10_000 });
    // the handler ignores its signal: the record says so, and the job's slot was held until it ended
    expect(record).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: false });
    expect(record.body).toContain('cancel requested');
    expect(await cancelQueuedJob(queue, lifecycle, handle)).toEqual({ outcome: 'finished', state: 'failed' });
  });

  it("finds the job's run behind more than a page of newer RUNNING runs of its service", async () => {
    const store = new MemoryRunStore();
    const invoker = jobInvoker('w1', { store, heartbeatMs: 50, cancelGraceMs: 100 });
    running.push(await testWorker(invoker, redis.url, 1));
    const handle = await queue.enqueue({ service: 'job_service', payload: { mode: 'sleep', ms: 1500 }, metadata: {} });
    for (let i = 0; i < 500 && store.all().length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    const lifecycle = await invoker.runLifecycle();
    for (let i = 0; i < 150; i++) {
      await lifecycle.begin(runningRecord({ service: 'job_service', job_id: `job_service/other-${i}` }));
    }
    const result = await cancelQueuedJob(queue, lifecycle, handle);
    expect(result).toMatchObject({ outcome: 'cancel-requested', run: { job_id: handle } });
    expect(await queue.waitForRun(handle, { timeoutMs: 10_000 })).toMatchObject({ status: 'CANCELLED' });
  });
});
