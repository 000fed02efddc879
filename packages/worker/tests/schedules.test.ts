import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { cjsPlugin, createHostProject, esmPlugin, runCli } from '../../invoker/tests/helpers/host-project';
import { Queue } from 'bullmq';
import { QUEUE_PREFIX, Schedules, redisConnection, type RunningWorker } from '../src';
import { jobInvoker, testWorker } from './helpers/plugin';
import { startRedis, type LocalRedis } from './helpers/redis';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker serving job_service, recording into `store`. */
async function worker(store: MemoryRunStore, concurrency = 1) {
  const w = await testWorker(jobInvoker('w', { store }), redis.url, concurrency);
  running.push(w);
  return w;
}

const scheduled = (store: MemoryRunStore, id: string) => store.all().filter((r) => r.schedule_id === id);

describe('schedules (BullMQ job schedulers on a real redis-server)', () => {
  it('runs a service every second; each record carries its schedule_id', async () => {
    const store = new MemoryRunStore();
    const added = await schedules.add({ service: 'job_service', everyMs: 1000, payload: { n: 7 }, id: 'every-second' });
    expect(added).toMatchObject({ id: 'every-second', service: 'job_service', every_ms: 1000, payload: { n: 7 } });
    expect(Date.parse(added.next_run_at!)).toBeGreaterThan(Date.now() - 1000);
    await worker(store);
    await sleep(3200);
    const runs = scheduled(store, 'every-second');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(5);
    expect(runs.every((r) => r.status === 'SUCCEEDED' && r.body === 'done 7')).toBe(true);
    expect(await schedules.remove('every-second', ['job_service'])).toBe(true);
    expect(await schedules.list(['job_service'])).toEqual([]);
  });

  it('does not pile up missed ticks while no worker runs: one run when a worker comes back', async () => {
    const store = new MemoryRunStore();
    await schedules.add({ service: 'job_service', everyMs: 1000, id: 'missed' });
    await sleep(3500); // three ticks with no worker
    // a scheduler keeps one job at a time: the missed ticks are not queued up
    const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
    expect((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)).toBe(1);
    await worker(store);
    await sleep(800);
    // the due tick, and at most the next regular one (ticks are a second apart): not three at once
    const runs = scheduled(store, 'missed');
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(2);
  });

  it('starts no run while the previous run of the schedule is still RUNNING', async () => {
    const store = new MemoryRunStore();
    await schedules.add({ service: 'job_service', everyMs: 1000, id: 'slow', payload: { mode: 'sleep', ms: 2500 } });
    await worker(store, 4); // room for overlapping runs, were they allowed
    await sleep(5500);
    const runs = scheduled(store, 'slow').sort((a, b) => a.run_id.localeCompare(b.run_id));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const end = (r: RunExecutionMetadata) => (r.ended_at ? Date.parse(r.ended_at) : Date.now());
    for (let i = 1; i < runs.length; i++)
      expect(Date.parse(runs[i]!.started_at)).toBeGreaterThanOrEqual(end(runs[i - 1]!));
  }, 20_000);
});

describe('pipeline schedule (CLI)', () => {
  const root = createHostProject([
    cjsPlugin('sched-plugin', ['sched_service']),
    esmPlugin('strict-plugin', 'strict_service'),
  ]);
  const home = mkdtempSync(join(tmpdir(), 'schedule-home-'));
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(['schedule', ...args], { cwd: root, env: { REDIS_URL: redis.url, PIPELINE_HOME: home, ...env } });

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
    const schedule = JSON.parse(added.stdout);
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
    expect(JSON.parse((await cli(['list', '--json'])).stdout).map((s: { id: string }) => s.id)).toEqual([
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
    expect(JSON.parse((await cli(['list', '--json'])).stdout)).toEqual([]);
  });

  it('says so when Redis cannot be reached (exit code 2)', async () => {
    const refused = await cli(['list'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1: start it, or set REDIS_URL');
  });
});
