import { spawn, execFileSync } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { Redactor, createTracker, silentLogger, trackingConfigFromEnv } from '@pipeline-invocation/observability';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { InvocationQueue, redisConnection } from '@pipeline-invocation/worker';
import { CLI, cjsPlugin, createHostProject, runCli } from '../../packages/invoker/tests/helpers/host-project';
import { startFakeWandb } from '../../packages/observability/tests/helpers/wandb-server';
import { startDynalite } from '../../packages/storage/tests/helpers/dynalite';
import { startRedis } from '../../packages/worker/tests/helpers/redis';
import { countedCase } from './helpers/tally';
import { tempDir } from '../support/temp-dir';

const root = createHostProject([cjsPlugin('fault-plugin', ['fault_service'])]);

@pipelineHandler('misbehaving')
class Misbehaving implements PipelineHandler<{ mode: string }> {
  async handle(event: { mode: string }) {
    switch (event.mode) {
      case 'throw-non-error':
        throw { not: 'an Error' };
      case 'reject-late':
        return new Promise<never>((_, reject) => setTimeout(() => reject(new Error('too late')), 300));
      case 'never':
        return new Promise<never>(() => {});
      case 'wrong-shape':
        return 'just a string' as never;
      default:
        return { statusCode: 200, body: 'fine' };
    }
  }
}

describe('handler faults', () => {
  it('each misbehaving run ends with a record saying what happened, and the next invocation works', () =>
    countedCase('handler faults (in-process)', async (figures) => {
      // timeouts and the cancel grace (10 s) run on jest's fake timers, which drive the invoker's clock
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const { invoker, store } = createTestInvoker({ handlers: [Misbehaving] });
      // status, code, error, whether the handler had settled when its record was written
      const expected: Record<string, [string, number, string, boolean | undefined]> = {
        'throw-non-error': ['FAILED', 500, 'NonErrorThrown', undefined],
        'reject-late': ['TIMED_OUT', 504, 'HandlerTimeoutError', true], // settles (rejects) within its grace
        never: ['TIMED_OUT', 504, 'HandlerTimeoutError', false], // recorded after the grace, may still run
        'wrong-shape': ['FAILED', 500, 'InvalidHandlerResult', undefined],
      };
      const seen: unknown[] = [];
      try {
        for (const [mode, [status, code, errorName, settled]] of Object.entries(expected)) {
          const run = invoker.invokePipelineHandler('misbehaving', { mode }, {}, { timeoutMs: 100 });
          await jest.advanceTimersByTimeAsync(100 + 10_000);
          const record = await run;
          const next = await invoker.invokePipelineHandler('misbehaving', { mode: 'ok' });
          figures.observe(
            record.status === status &&
              record.status_code === code &&
              record.error?.name === errorName &&
              record.handler_settled === settled &&
              next.status === 'SUCCEEDED',
          );
          seen.push([record.status, record.status_code, record.error?.name, record.handler_settled, next.status]);
        }
      } finally {
        jest.useRealTimers();
      }
      figures.lose(8 - store.all().filter((r) => r.status !== 'RUNNING').length);
      expect(seen).toEqual(Object.values(expected).map((e) => [...e, 'SUCCEEDED']));
      expect(store.all()).toHaveLength(8);
    }));

  it.each([
    ['calls process.exit', 'exit', {}],
    ['runs out of memory', 'oom', { NODE_OPTIONS: '--max-old-space-size=48' }],
  ])(
    'a handler that %s kills its worker; the run is recorded CRASHED and the next job works',
    (_label, mode, extraEnv) =>
      countedCase('handler faults (process death)', async (figures) => {
        const redis = await startRedis();
        const queue = new InvocationQueue(redisConnection(redis.url));
        const home = tempDir('fault-worker-');
        const env = {
          PATH: process.env.PATH!,
          REDIS_URL: redis.url,
          PIPELINE_HOME: home,
          PIPELINE_WORKER_LOCK_MS: '800',
          // A dead worker's run is stale after 400 ms of silence (heartbeats every 100 ms), not a
          // minute; the worker's 'failed' handler marks the last run CRASHED once it is stale.
          PIPELINE_HEARTBEAT_MS: '100',
          PIPELINE_STALE_AFTER_MS: '400',
          LOG_LEVEL: 'warn',
          ...extraEnv,
        };
        const startWorkerProcess = () => {
          const child = spawn(process.execPath, [CLI, 'worker'], { cwd: root, env, stdio: 'ignore' });
          return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
        };
        let worker = startWorkerProcess();
        try {
          const handle = await queue.enqueue(
            { service: 'fault_service', payload: { mode }, metadata: {} },
            { attempts: 1 },
          );
          const jobId = handle.split('/')[1]!;
          const bull = queue.queue('fault_service');
          const job = () => bull.getJob(jobId);
          let deaths = 0;
          // Workers keep dying on this job until BullMQ gives up on it (maxStalledCount 2). A dead
          // worker's job lock is deleted at once, as its lapse would leave it, and a new worker
          // takes over; the job's state is polled until it failed.
          const deadline = Date.now() + 60_000;
          for (
            let state = await (await job())!.getState();
            state !== 'failed';
            state = await (await job())!.getState()
          ) {
            if (Date.now() > deadline) throw new Error(`the job is still ${state} after 60 s`);
            const died = await Promise.race([
              worker.exited.then(() => true),
              new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 100)),
            ]);
            if (died) {
              deaths += 1;
              await (await bull.client).del(`${bull.toKey(jobId)}:lock`);
              worker = startWorkerProcess();
            }
          }
          expect(await (await job())!.getState()).toBe('failed');
          expect(deaths).toBeGreaterThanOrEqual(2);
          const store = new SqliteRunStore(join(home, 'runs.db'));
          const until = Date.now() + 5000;
          let runs = (await store.list({ limit: 20 })).items;
          while (runs.some((r) => r.status === 'RUNNING') && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 100));
            runs = (await store.list({ limit: 20 })).items;
          }
          const next = await queue.enqueue({ service: 'fault_service', payload: {}, metadata: {} });
          const nextStatus = (await queue.waitForRun(next, { timeoutMs: 15_000 })).status;
          const allCrashed = runs.every((r) => r.status === 'CRASHED' && r.error?.name === 'WorkerCrashed');
          // every attempt a worker started (one per death) must have left its record
          figures.lose(deaths - runs.length);
          figures.observe(runs.length >= 2 && allCrashed && nextStatus === 'SUCCEEDED');
          expect(runs.length).toBeGreaterThanOrEqual(2);
          expect(allCrashed).toBe(true);
          expect(nextStatus).toBe('SUCCEEDED');
          await store.close();
        } finally {
          worker.child.kill('SIGTERM');
          await worker.exited;
          await queue.close();
          await redis.stop();
        }
      }),
    90_000,
  );
});

describe('store faults', () => {
  const cli = (args: string[], env: Record<string, string>) => runCli(args, { cwd: root, env });

  it(
    'DynamoDB stopped before a run: exit 4, the handler is not run; after a run: reads fail clearly',
    () =>
      countedCase('store faults', async (figures) => {
        const dynamo = await startDynalite();
        const env = {
          PIPELINE_STORE: 'dynamodb',
          PIPELINE_DYNAMODB_TABLE: 'faults',
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'a',
          AWS_SECRET_ACCESS_KEY: 'b',
          NODE_NO_WARNINGS: '1',
          PIPELINE_HOME: tempDir('fault-dyn-'),
        };
        expect((await cli(['storage', 'init'], env)).code).toBe(0);
        const ok = await cli(['invoke', 'fault_service', '--json'], env);
        expect(ok.code).toBe(0);
        await dynamo.stop();
        const before = await cli(['invoke', 'fault_service'], env);
        figures.observe(before.code === 4 && before.stderr.includes('The handler was not run'));
        const after = await cli(['runs'], env);
        figures.observe(after.code === 1 && /pipeline runs: .*(ECONNREFUSED|connect)/.test(after.stderr));
        expect(before.code).toBe(4);
        expect(before.stderr).toContain('The handler was not run');
        expect(after.code).toBe(1);
        expect(after.stderr).toMatch(/pipeline runs: .*(ECONNREFUSED|connect)/);
      }),
    60_000,
  );

  it(
    'a SQLite file locked by another process: rides out a short lock, exit 4 when it outlasts the busy timeout and the retries',
    () =>
      countedCase('store faults', async (figures) => {
        const home = tempDir('fault-lock-');
        new SqliteRunStore(join(home, 'runs.db')).close();
        const holdLock = (ms: number) =>
          spawn(
            process.execPath,
            [
              '-e',
              `const db = new (require('better-sqlite3'))(${JSON.stringify(join(home, 'runs.db'))});
           db.exec('BEGIN EXCLUSIVE'); process.stdout.write('locked');
           setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`,
            ],
            { cwd: join(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
          );
        const locked = async (child: ReturnType<typeof holdLock>) =>
          new Promise((resolve) => child.stdout!.once('data', resolve));

        // Busy timeout 300 ms, three attempts 1 s and 2 s apart: about 4 s in all; the lock outlasts them.
        const longLock = holdLock(7000);
        await locked(longLock);
        const refused = await cli(['invoke', 'fault_service'], { PIPELINE_HOME: home, PIPELINE_SQLITE_BUSY_MS: '300' });
        figures.observe(refused.code === 4 && refused.stderr.includes('stayed locked by another process'));
        expect(refused.code).toBe(4);
        expect(refused.stderr).toContain('stayed locked by another process');
        await new Promise((resolve) => longLock.once('exit', resolve));

        const shortLock = holdLock(500);
        await locked(shortLock);
        const waited = await cli(['invoke', 'fault_service', '--json'], {
          PIPELINE_HOME: home,
          PIPELINE_SQLITE_BUSY_MS: '5000',
        });
        figures.observe(waited.code === 0);
        expect(waited.code).toBe(0);
      }),
    30_000,
  );

  describe("on a full disk and a read-only folder (real mounts: needs root, as on this project's machines)", () => {
    const mounted: string[] = [];
    const mount = (args: string[], dir: string) => {
      try {
        execFileSync('mount', [...args, dir], { stdio: 'pipe' });
        mounted.push(dir);
      } catch (error) {
        throw new Error(`these tests mount a tmpfs / read-only bind mount and need root: ${(error as Error).message}`, {
          cause: error,
        });
      }
    };
    afterAll(() => {
      for (const dir of mounted.reverse()) execFileSync('umount', [dir]);
    });

    it(
      'the disk fills up during a run: the record waits in an outbox on another disk, exit 4, flushed once space is back',
      () =>
        countedCase('store faults', async (figures) => {
          const home = tempDir('fault-full-');
          mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs'], home);
          const outbox = join(tempDir('fault-outbox-'), 'outbox.jsonl');
          const env = { PIPELINE_HOME: home, PIPELINE_OUTBOX: outbox };
          const filler = join(home, 'filler');
          const full = await cli(
            ['invoke', 'fault_service', '--payload', JSON.stringify({ mode: 'fill', path: filler })],
            env,
          );
          expect(full.code).toBe(4);
          expect(full.stderr).toContain('the disk is full');
          expect(full.stderr).toContain(`was kept in ${outbox}`);
          unlinkSync(filler);
          const flushed = await cli(['outbox', '--flush'], env);
          expect(flushed.stdout).toContain('wrote 1 record(s)');
          const runs = JSON.parse((await cli(['runs', '--json'], env)).stdout).items;
          figures.lose(1 - runs.length);
          figures.observe(full.code === 4 && runs.length === 1 && runs[0].status === 'SUCCEEDED');
          expect(runs.map((r: { status: string }) => r.status)).toEqual(['SUCCEEDED']);
        }),
      30_000,
    );

    it(
      'a read-only PIPELINE_HOME: exit 4 with the fix, before any run starts',
      () =>
        countedCase('store faults', async (figures) => {
          const home = tempDir('fault-ro-');
          new SqliteRunStore(join(home, 'runs.db')).close();
          mount(['--bind', '-o', 'ro', home], home);
          const outbox = join(tempDir('fault-ro-outbox-'), 'o.jsonl');
          const result = await cli(['invoke', 'fault_service'], { PIPELINE_HOME: home, PIPELINE_OUTBOX: outbox });
          figures.observe(
            result.code === 4 && result.stderr.includes('the database cannot be written') && !existsSync(outbox),
          );
          expect(result.code).toBe(4);
          expect(result.stderr).toContain(`sqlite:${join(home, 'runs.db')}: the database cannot be written`);
          expect(result.stderr).toContain('Check the permissions and free space of PIPELINE_HOME');
          expect(existsSync(outbox)).toBe(false); // no run started, so there is no record to keep
        }),
      30_000,
    );
  });
});

describe('tracker faults', () => {
  it.each(['reject-upsert', 'fail', 'silent'] as const)(
    'W&B %s: the run succeeds within the timeout plus 2 s',
    (mode) =>
      countedCase('tracker faults', async (figures) => {
        const wandb = await startFakeWandb(mode);
        try {
          const redactor = new Redactor({});
          const config = trackingConfigFromEnv({
            WANDB_API_KEY: 'k',
            WANDB_BASE_URL: wandb.baseUrl,
            PIPELINE_WANDB_TIMEOUT_MS: '1000',
          });
          const { invoker, store } = createTestInvoker({
            handlers: [Misbehaving],
            tracker: createTracker(config, { logger: silentLogger, redactor }),
          });
          const started = Date.now();
          const record = await invoker.invokePipelineHandler('misbehaving', { mode: 'ok' });
          const tookMs = Date.now() - started;
          figures.lose(1 - store.all().length);
          figures.observe(record.status === 'SUCCEEDED' && tookMs < 3000);
          expect(record.status).toBe('SUCCEEDED');
          expect(tookMs).toBeLessThan(1000 + 2000);
          expect(store.all()).toHaveLength(1);
          await invoker.close();
        } finally {
          await wandb.stop();
        }
      }),
  );
});
