import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { silentLogger } from '@pipeline-invocation/observability';
import { createInvoker } from '@pipeline-invocation/invoker';
import { cjsPlugin, createHostProject, runCli, CLI } from '../../invoker/tests/helpers/host-project';
import { InvocationQueue, redisConnection, startWorker } from '../src';
import { startRedis, type LocalRedis } from './helpers/redis';
import { tempDir } from '../../../tests/support/temp-dir';

// A host project with a plugin (CommonJS fixture: modes sleep / fail) and `pipeline worker`
// processes running in it, as they would on a real machine.
const root = createHostProject([cjsPlugin('job-plugin', ['proc_service'])]);

let redis: LocalRedis;
let queue: InvocationQueue;
let home: string;
beforeEach(async () => {
  redis = await startRedis();
  queue = new InvocationQueue(redisConnection(redis.url));
  home = tempDir('worker-home-');
});
afterEach(async () => {
  await queue.close();
  await redis.stop();
});

// Heartbeats every 100 ms: a run whose worker died is stale for a process that takes 1 s of
// silence for death (the rescuers below), instead of the default minute.
const env = () => ({
  REDIS_URL: redis.url,
  PIPELINE_HOME: home,
  PIPELINE_WORKER_LOCK_MS: '1500',
  PIPELINE_HEARTBEAT_MS: '100',
  LOG_LEVEL: 'info',
});

function startWorkerProcess(
  extra: Record<string, string> = {},
  concurrency = 2,
): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'worker', '--concurrency', String(concurrency)], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env(), ...extra },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, exited: new Promise((resolve) => child.on('exit', resolve)), stderr: () => stderr };
}

async function until(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const active = async () => (await queue.stats(['proc_service']))[0]!.active;
const request = (payload: Record<string, unknown>) => ({ service: 'proc_service', payload, metadata: {} });

describe('worker processes', () => {
  it('on SIGTERM finishes the job in hand, takes no new one, and exits 0', async () => {
    const worker = startWorkerProcess();
    const first = await queue.enqueue(request({ mode: 'sleep', ms: 1500 }));
    await until(async () => (await active()) === 1);
    worker.child.kill('SIGTERM');
    // the worker has taken the signal (rather than a fixed 100 ms, which a loaded machine overran)
    await until(async () => worker.stderr().includes('SIGTERM: no new jobs'));
    const second = await queue.enqueue(request({}));
    expect(await worker.exited).toBe(0);
    expect(worker.stderr()).toContain('SIGTERM: no new jobs; finishing the ones in hand');
    expect((await queue.waitForRun(first, { timeoutMs: 5000 })).status).toBe('SUCCEEDED');
    expect((await queue.stats(['proc_service']))[0]).toMatchObject({ waiting: 1, active: 0, completed: 1 });
    expect(second).toMatch(/^proc_service\//);
  }, 30_000);

  it('a worker killed with SIGKILL mid-job: another worker runs the job, the dead attempt is marked CRASHED', async () => {
    const doomed = startWorkerProcess();
    const handle = await queue.enqueue(request({ mode: 'sleep', ms: 1000 }));
    const store = new SqliteRunStore(join(home, 'runs.db'));
    await until(async () => (await store.list({ limit: 5 })).items.some((r) => r.status === 'RUNNING'));
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const rescuer = await startWorker({
      invoker: createInvoker({
        root,
        // a run silent for 1 s is dead for this worker (its heartbeats were every 100 ms)
        env: { PIPELINE_HOME: home, PIPELINE_HEARTBEAT_MS: '100', PIPELINE_STALE_AFTER_MS: '1000' },
        logger: silentLogger,
        tracker: false,
      }),
      connection: redisConnection(redis.url),
      stalledIntervalMs: 500,
      lockDurationMs: 1500,
    });
    try {
      const record = await queue.waitForRun(handle, { timeoutMs: 20_000 });
      expect(record.status).toBe('SUCCEEDED');
      const runs = (await store.list({ limit: 10 })).items;
      expect(runs.map((r) => r.status).sort()).toEqual(['CRASHED', 'SUCCEEDED']);
      expect(runs.find((r) => r.status === 'CRASHED')?.error?.name).toBe('WorkerCrashed');
      // both attempts' records name the job (the rescuer found the dead attempt's run by it)
      expect(runs.map((r) => r.job_id)).toEqual([handle, handle]);
    } finally {
      await rescuer.close(1000);
      await store.close();
    }
  }, 40_000);

  it('a false stall (the worker blocks its event loop and loses its job lock) never crashes the live run nor runs its handler twice', async () => {
    // The first worker's handler blocks its event loop until the test releases it. Its lock (and
    // the queue's stalled-job checks, throttled to one per lock duration) would last 30 s, so
    // nothing expires here: the test deletes the lock key and the check's throttle key in Redis,
    // leaving them as 30 s of a blocked event loop would, and a second worker's stalled-job check
    // takes the job for stalled and gives it to that second worker.
    const mark = join(home, 'handler-runs.txt');
    const release = join(home, 'release-the-handler');
    const staleAfter = { PIPELINE_HEARTBEAT_MS: '200', PIPELINE_STALE_AFTER_MS: '8000' };
    const blocked = startWorkerProcess({ ...staleAfter, PIPELINE_WORKER_LOCK_MS: '30000' }, 1);
    const handle = await queue.enqueue(request({ mode: 'block', release, mark }));
    const jobId = handle.split('/')[1]!;
    const bull = queue.queue('proc_service');
    const job = () => bull.getJob(jobId);
    const store = new SqliteRunStore(join(home, 'runs.db'));
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      await until(async () => (await store.list({ limit: 5 })).items.some((r) => r.status === 'RUNNING'));
      await until(async () => existsSync(mark)); // the handler is under way: the event loop is blocked
      const redisClient = await bull.client;
      expect(await redisClient.del(`${bull.toKey(jobId)}:lock`)).toBe(1);
      await redisClient.del(bull.toKey('stalled-check'));
      second = await startWorker({
        invoker: createInvoker({
          root,
          env: { PIPELINE_HOME: home, ...staleAfter },
          logger: silentLogger,
          tracker: false,
        }),
        connection: redisConnection(redis.url),
        stalledIntervalMs: 300,
        lockDurationMs: 1000,
      });
      // the re-attempt finds the first attempt's run alive (heartbeat fresh): it waits for it
      await until(async () => (await job())?.data.awaitingRunId !== undefined);
      const [live] = (await store.list({ limit: 5 })).items;
      expect(live).toMatchObject({ status: 'RUNNING', job_id: handle });
      expect((await job())!.data.awaitingRunId).toBe(live!.run_id);
      // ...and when that run SUCCEEDED, the job ends with it, the handler not run again
      writeFileSync(release, '');
      const record = await queue.waitForRun(handle, { timeoutMs: 30_000 });
      expect(record).toMatchObject({ run_id: live!.run_id, status: 'SUCCEEDED', job_id: handle });
      const runs = (await store.list({ limit: 10 })).items;
      expect(runs.map((r) => [r.run_id, r.status])).toEqual([[live!.run_id, 'SUCCEEDED']]);
      expect(readFileSync(mark, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      writeFileSync(release, '');
      await second?.close(1000);
      blocked.child.kill('SIGTERM');
      await blocked.exited;
      await store.close();
    }
  }, 60_000);

  it('pipeline queue stats shows the counts of each service queue', async () => {
    await queue.enqueue(request({}));
    await queue.enqueue(request({}));
    const table = await runCli(['queue', 'stats'], { cwd: root, env: env() });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SERVICE\s+WAITING\s+ACTIVE\s+COMPLETED\s+FAILED\s+DELAYED\n/);
    expect(table.stdout).toMatch(/proc_service\s+2\s+0\s+0\s+0\s+0/);
    const json = await runCli(['queue', 'stats', '--json'], { cwd: root, env: env() });
    expect(JSON.parse(json.stdout)).toEqual([
      { service: 'proc_service', waiting: 2, active: 0, completed: 0, failed: 0, delayed: 0 },
    ]);
    expect((await runCli(['queue', 'purge'], { cwd: root, env: env() })).code).toBe(2);
    expect((await runCli(['worker', '--help'], { cwd: root, env: env() })).stdout).toMatch(/^Usage: pipeline worker/);
    expect((await runCli(['worker', '--concurrency', '0'], { cwd: root, env: env() })).code).toBe(2);
  }, 30_000);
});
