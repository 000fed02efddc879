import { MemoryRunStore } from '@pipeline-invocation/storage';
import { createInvoker } from '@pipeline-invocation/invoker';
import {
  InvocationQueue,
  Schedules,
  redisConnection,
  startWorker,
  type RunningWorker,
} from '@pipeline-invocation/worker';
import { startRedis, type LocalRedis } from '../../worker/tests/helpers/redis';
import { pythonPlugin } from '../src';
import { FIXTURES, capturingLogger } from './helpers';

let redis: LocalRedis;
let worker: RunningWorker;
let store: MemoryRunStore;
let log: ReturnType<typeof capturingLogger>;

const services = {
  ml_inference_sociopolitical: 'pipelines.handlers:original_dict',
  preprocess_raw_data: 'pipelines.handlers:raiser',
  printer: 'pipelines.handlers:printer',
};

beforeEach(async () => {
  redis = await startRedis();
  store = new MemoryRunStore();
  log = capturingLogger();
  const invoker = createInvoker({
    discover: false,
    outbox: false,
    env: {},
    logger: log.logger,
    tracker: false,
    storeRetryDelaysMs: [],
    store,
    plugins: [pythonPlugin({ services }, { dir: FIXTURES })],
  });
  worker = await startWorker({
    invoker,
    concurrency: 2,
    connection: redisConnection(redis.url),
    stalledIntervalMs: 1000,
    lockDurationMs: 2000,
  });
});
afterEach(async () => {
  await worker.close(1000);
  await redis.stop();
});

describe('Python services on the BullMQ worker (real redis-server, real python3)', () => {
  it('runs queued Python invocations: their records, metadata and logs', async () => {
    const queue = new InvocationQueue(redisConnection(redis.url));
    try {
      const ok = await queue.enqueue({
        service: 'ml_inference_sociopolitical',
        payload: { run_type: 'prod', n: 5 },
        metadata: { request_id: 'nightly-1' },
      });
      const failing = await queue.enqueue({ service: 'preprocess_raw_data', payload: { value: 'x' }, metadata: {} });
      const printing = await queue.enqueue({ service: 'printer', payload: { token: 't' }, metadata: {} });
      const succeeded = await queue.waitForRun(ok, { timeoutMs: 30_000 });
      expect(succeeded).toMatchObject({ status: 'SUCCEEDED', status_code: 200, idempotency_key: 'nightly-1' });
      expect(JSON.parse(succeeded.metadata)).toMatchObject({ total_classified_posts: 5, run_type: 'prod' });
      const failed = await queue.waitForRun(failing, { timeoutMs: 30_000 });
      expect(failed).toMatchObject({ status: 'FAILED', status_code: 500 });
      expect(failed.body).toContain("raised ValueError: bad value 'x'");
      const printed = await queue.waitForRun(printing, { timeoutMs: 30_000 });
      expect(printed.status).toBe('SUCCEEDED');
      expect(log.lines).toContainEqual(
        expect.objectContaining({ run_id: printed.run_id, stream: 'stdout', msg: 'hello from stdout, token t' }),
      );
      expect(store.all()).toHaveLength(3);
    } finally {
      await queue.close();
    }
  });

  it('runs a Python service on a schedule; each record carries its schedule_id', async () => {
    const schedules = new Schedules(redisConnection(redis.url));
    const queue = new InvocationQueue(redisConnection(redis.url));
    try {
      await schedules.add({
        service: 'ml_inference_sociopolitical',
        everyMs: 1000,
        now: true,
        payload: { run_type: 'prod', n: 1 },
        id: 'python-every-second',
      });
      // `now: true` queues a run at once: its job (the earliest due) is awaited through the queue's
      // events (the tick grid itself is the worker package's tests')
      const jobs = await queue
        .queue('ml_inference_sociopolitical')
        .getJobs(['waiting', 'prioritized', 'active', 'completed', 'delayed']);
      const first = jobs.sort((a, b) => a.timestamp + a.delay - (b.timestamp + b.delay))[0]!;
      await queue.waitForRun(`ml_inference_sociopolitical/${first.id}`, { timeoutMs: 30_000 });
      const scheduled = () =>
        store.all().filter((r) => r.schedule_id === 'python-every-second' && r.status !== 'RUNNING');
      const listed = await schedules.list(['ml_inference_sociopolitical']);
      expect(await schedules.remove('python-every-second', ['ml_inference_sociopolitical'])).toBe(true);
      const runs = scheduled();
      expect(runs.length).toBeGreaterThanOrEqual(1);
      for (const run of runs) {
        expect(run).toMatchObject({ service: 'ml_inference_sociopolitical', status: 'SUCCEEDED', status_code: 200 });
        expect(JSON.parse(run.metadata)).toMatchObject({ total_classified_posts: 1 });
      }
      expect(log.lines).toContainEqual(
        expect.objectContaining({ msg: 'run finished', status: 'SUCCEEDED', run_id: runs[0]!.run_id }),
      );
      // and the schedule goes on: its next run is due within a second
      expect(listed).toEqual([expect.objectContaining({ id: 'python-every-second', every_ms: 1000 })]);
      expect(Date.parse(listed[0]!.next_run_at!) - Date.now()).toBeLessThanOrEqual(1000);
    } finally {
      await schedules.close();
      await queue.close();
    }
  }, 60_000);
});
