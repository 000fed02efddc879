import { Queue } from 'bullmq';
import type { Io } from '@pipeline-invocation/invoker/cli';
import { QUEUE_PREFIX, Schedules, redisConnection } from '../src';
import { schedule } from '../src/cli';
import { startRedis, type LocalRedis } from './helpers/redis';

// When does a new schedule first run, and how is its interval printed? Real redis-server.

let redis: LocalRedis;
let schedules: Schedules;
let queue: Queue;
const T0 = Date.now() + 86_400_000; // a clock the test owns: a day ahead of the machine's
beforeEach(async () => {
  redis = await startRedis();
  queue = new Queue('job_service', { connection: redisConnection(redis.url), prefix: QUEUE_PREFIX });
});
afterEach(async () => {
  await schedules?.close();
  await queue.close();
  await redis.stop();
});

describe('the first run of a schedule', () => {
  it('an interval schedule first runs one interval after it is added: nothing is waiting now', async () => {
    const now = Date.now();
    schedules = new Schedules(redisConnection(redis.url), { now: () => now });
    const added = await schedules.add({ service: 'job_service', everyMs: 60_000, id: 'hourly' });
    expect(added.next_run_at).toBe(new Date(now + 60_000).toISOString());
    expect(await queue.getJobCounts('waiting', 'delayed')).toMatchObject({ waiting: 0, delayed: 1 });
  });

  it('the clock it counts from is the injected one', async () => {
    schedules = new Schedules(redisConnection(redis.url), { now: () => T0 });
    const added = await schedules.add({ service: 'job_service', everyMs: 3_600_000, id: 'from-t0' });
    expect(added.next_run_at).toBe(new Date(T0 + 3_600_000).toISOString());
  });

  it('with now: true it also runs at once', async () => {
    const now = Date.now();
    schedules = new Schedules(redisConnection(redis.url), { now: () => now });
    const added = await schedules.add({ service: 'job_service', everyMs: 60_000, id: 'at-once', now: true });
    expect(Date.parse(added.next_run_at!)).toBeLessThan(now + 5_000);
    expect((await queue.getJobCounts('waiting', 'delayed')).waiting).toBe(1);
  });

  it('a cron schedule with now: true runs at once, then on its pattern', async () => {
    schedules = new Schedules(redisConnection(redis.url));
    const added = await schedules.add({ service: 'job_service', cron: '0 3 * * *', id: 'nightly-now', now: true });
    expect(Date.parse(added.next_run_at!)).toBeLessThan(Date.now() + 5_000);
    expect((await queue.getJobCounts('waiting')).waiting).toBe(1);
  });
});

describe('pipeline schedule add --every (the CLI command, in process)', () => {
  /** Run `pipeline schedule ...` against the test's Redis; the workspace's Perspective plugin is the service. */
  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      out: (t) => void (stdout += t),
      err: (t) => void (stderr += t),
      errIsTty: false,
      env: { REDIS_URL: redis.url, LOG_LEVEL: 'error' },
      cwd: process.cwd(),
    };
    const code = await schedule(args, io);
    return { code, stdout, stderr };
  }
  const service = 'ml_inference_perspective_api';
  const payload = ['--payload', '{"run_type":"prod"}'];
  const perspective = () => new Queue(service, { connection: redisConnection(redis.url), prefix: QUEUE_PREFIX });

  it('prints the interval as written (every 1h), the next run an hour away; list prints it so too', async () => {
    const before = Date.now();
    const added = await cli(['add', service, '--every', '1h', ...payload]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`^Schedule ${service}-every-3600000ms: ${service} every 1h; next run `));
    const next = Date.parse(/next run (\S+)\.$/.exec(added.stdout.trim())![1]!);
    expect(next).toBeGreaterThanOrEqual(before + 3_600_000);
    expect((await cli(['list'])).stdout).toMatch(/every 1h\s+\d{4}-/);
    const q = perspective();
    expect((await q.getJobCounts('waiting')).waiting).toBe(0); // nothing fired at once
    await q.close();
  });

  it('--now runs it once right away as well', async () => {
    const added = await cli(['add', service, '--every', '90m', '--now', ...payload]);
    expect(added.stdout).toContain(`${service} every 90m; next run `);
    const q = perspective();
    expect((await q.getJobCounts('waiting')).waiting).toBe(1);
    await q.close();
  });
});
