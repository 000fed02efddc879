import { createServer } from 'node:net';
import { join } from 'node:path';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { cjsPlugin, createHostProject, esmPlugin } from '../../invoker/tests/helpers/host-project';
import { Queue } from 'bullmq';
import { QUEUE_PREFIX, Schedules, redisConnection, type RunningWorker } from '../src';
import { runPipeline } from './helpers/cli';
import { jobInvoker, testWorker } from './helpers/plugin';
import { startRedis, type LocalRedis } from './helpers/redis';
import { tempDir } from '../../../tests/support/temp-dir';

let redis: LocalRedis;
let schedules: Schedules;
let queue: Queue;
const running: RunningWorker[] = [];
beforeEach(async () => {
  redis = await startRedis();
  schedules = new Schedules(redisConnection(redis.url));
  queue = new Queue('job_service', { connection: redisConnection(redis.url), prefix: QUEUE_PREFIX });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.close(1000)));
  await schedules.close();
  await queue.close();
  await redis.stop();
});

/** Wait until `condition()` holds (polled every 50 ms), failing after `timeoutMs`. */
async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A worker serving job_service, recording into `store`. */
async function worker(store: MemoryRunStore, concurrency = 1) {
  const w = await testWorker(jobInvoker('w', { store }), redis.url, concurrency);
  running.push(w);
  return w;
}

const scheduled = (store: MemoryRunStore, id: string) =>
  store
    .all()
    .filter((r) => r.schedule_id === id)
    .sort((a, b) => a.run_id.localeCompare(b.run_id));
/** The tick (ms since the epoch) a scheduled run's job was made for: BullMQ names it `repeat:<id>:<tick>`. */
const tickOf = (run: RunExecutionMetadata) => Number(/:(\d+)$/.exec(run.job_id ?? '')?.[1]);

describe('schedules (BullMQ job schedulers on a real redis-server)', () => {
  it('runs a service every second; each record carries its schedule_id', async () => {
    const store = new MemoryRunStore();
    const added = await schedules.add({ service: 'job_service', everyMs: 1000, payload: { n: 7 }, id: 'every-second' });
    expect(added).toMatchObject({ id: 'every-second', service: 'job_service', every_ms: 1000, payload: { n: 7 } });
    expect(Date.parse(added.next_run_at!)).toBeGreaterThan(Date.now() - 1000);
    await worker(store);
    await until(() => scheduled(store, 'every-second').filter((r) => r.status === 'SUCCEEDED').length >= 2);
    const runs = scheduled(store, 'every-second').filter((r) => r.status === 'SUCCEEDED');
    expect(runs.every((r) => r.body === 'done 7')).toBe(true);
    // consecutive runs come from ticks on the schedule's one-second grid (a worker that picks a
    // tick up late makes BullMQ skip to the next slot: a gap of whole seconds, never less)
    const gapMs = tickOf(runs[1]!) - tickOf(runs[0]!);
    expect([gapMs >= 1000, gapMs % 1000]).toEqual([true, 0]);
    expect(await schedules.remove('every-second', ['job_service'])).toBe(true);
    expect(await schedules.list(['job_service'])).toEqual([]);
  });

  it('does not pile up missed ticks while no worker runs: one run when a worker comes back', async () => {
    const store = new MemoryRunStore();
    const minute = 60_000;
    // The schedule was added five minutes ago and no worker has run since: its first tick was
    // due four minutes ago, and three more have passed. Only Date is faked (while adding), so
    // BullMQ and Redis keep their real timers.
    const addedAt = Date.now() - 5 * minute;
    jest.useFakeTimers({
      now: addedAt,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    try {
      await schedules.add({ service: 'job_service', everyMs: minute, id: 'missed' });
    } finally {
      jest.useRealTimers();
    }
    // a scheduler keeps one job at a time: the missed ticks are not queued up
    const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.timestamp + waiting[0]!.delay).toBe(addedAt + minute);

    await worker(store);
    await until(async () => (await queue.getJobCounts('completed')).completed === 1);
    // one run for the missed ticks, and the next tick is the next regular one, not a catch-up
    expect(scheduled(store, 'missed').map((r) => r.status)).toEqual(['SUCCEEDED']);
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed');
    expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 1, prioritized: 0, completed: 1 });
    const [next] = await schedules.list(['job_service']);
    expect(Date.parse(next!.next_run_at!)).toBeGreaterThan(Date.now());
    expect(Date.parse(next!.next_run_at!)).toBeLessThanOrEqual(Date.now() + minute);
  });

  it('starts no run while the previous run of the schedule is still RUNNING', async () => {
    const store = new MemoryRunStore();
    await schedules.add({ service: 'job_service', everyMs: 1000, id: 'slow', payload: { mode: 'sleep', ms: 2500 } });
    await worker(store, 4); // room for overlapping runs, were they allowed
    // A second run exists only once a tick found the first one over; were runs allowed to
    // overlap, the second would start about a second into the first.
    await until(() => scheduled(store, 'slow').length >= 2);
    const runs = scheduled(store, 'slow');
    const end = (r: RunExecutionMetadata) => (r.ended_at ? Date.parse(r.ended_at) : Infinity);
    for (let i = 1; i < runs.length; i++)
      expect(Date.parse(runs[i]!.started_at)).toBeGreaterThanOrEqual(end(runs[i - 1]!));
  }, 20_000);
});

describe('pipeline schedule (CLI)', () => {
  const root = createHostProject([
    cjsPlugin('sched-plugin', ['sched_service']),
    esmPlugin('strict-plugin', 'strict_service'),
  ]);
  const home = tempDir('schedule-home-');
  // a failure says how the process ended (exit code, signal, stderr), not only that its stdout was not JSON
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runPipeline(['schedule', ...args], { cwd: root, env: { REDIS_URL: redis.url, PIPELINE_HOME: home, ...env } });

  it('adds, lists with the next run time, and removes', async () => {
    const added = await cli([
      'add',
      'sched_service',
      '--cron',
      '0 3 * * *',
      '--tz',
      'Europe/Berlin',
      '--id',
      'nightly',
      '--json',
    ]);
    expect(added.code).toBe(0);
    const schedule = added.json() as { next_run_at: string };
    expect(schedule).toMatchObject({ id: 'nightly', service: 'sched_service', cron: '0 3 * * *', tz: 'Europe/Berlin' });
    // 03:00 in Berlin is 01:00 or 02:00 UTC
    expect(new Date(schedule.next_run_at).getUTCHours()).toBeGreaterThanOrEqual(1);
    expect(new Date(schedule.next_run_at).getUTCHours()).toBeLessThanOrEqual(2);
    expect((await cli(['add', 'sched_service', '--every', '5m', '--payload', '{"n":1}'])).code).toBe(0);
    const listed = await cli(['list']);
    expect(listed.stdout).toMatch(/nightly\s+sched_service\s+cron "0 3 \* \* \*" \(Europe\/Berlin\)\s+\d{4}-/);
    expect(listed.stdout).toMatch(/sched_service-every-300000ms\s+sched_service\s+every 5m/);
    expect((await cli(['remove', 'nightly'])).stdout).toContain('Removed schedule nightly.');
    expect((await cli(['remove', 'nightly'])).code).toBe(1);
    expect(((await cli(['list', '--json'])).json() as { id: string }[]).map((s) => s.id)).toEqual([
      'sched_service-every-300000ms',
    ]);
  });

  it.each([
    [['add', 'sched_service', '--cron', 'every day'], '"every day" is not a cron expression'],
    [['add', 'sched_service', '--cron', '0 3 * * *', '--tz', 'Mars/Olympus'], '"Mars/Olympus" is not a time zone'],
    [['add', 'sched_service', '--every', 'often'], '--every must be a whole number with a unit'],
    [['add', 'sched_service'], 'give either a cron expression (--cron) or an interval (--every)'],
    [['add', 'no_such_service', '--every', '1m'], 'no_such_service'],
    [['add', 'strict_service', '--every', '1m', '--payload', '{"word":5}'], 'word'],
  ])('refuses %j with exit code 2 and says why, scheduling nothing', async (args, message) => {
    const refused = await cli(args);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining(message)]);
    expect((await cli(['list', '--json'])).json()).toEqual([]);
  });

  it('says so when Redis cannot be reached (exit code 2)', async () => {
    const refused = await cli(['list'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1: start it, or set REDIS_URL');
  });

  it('says so when the server at REDIS_URL closes the connection without answering (exit code 2)', async () => {
    // as a port forward with nothing behind it does: the connection is taken, then closed (what
    // the client sends is read and dropped, so the socket ends and the server can close)
    const server = createServer((socket) => socket.resume().end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `redis://127.0.0.1:${(server.address() as { port: number }).port}`;
      const refused = await cli(['list', '--json'], { REDIS_URL: url });
      expect([refused.code, refused.json()]).toEqual([
        2,
        {
          error: { name: 'UsageError', message: expect.stringContaining(`cannot reach Redis at ${url}`), exit_code: 2 },
        },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
