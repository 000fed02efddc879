// 4,000 no-op invocations through the BullMQ queue: `pipeline worker` at concurrency 1 and 16 as
// ratios to a bare BullMQ worker (same Redis, same jobs and payload, same concurrency, a no-op
// processor) measured in the same run (target: at least 0.8x at concurrency 16 with
// PIPELINE_STORE=memory, our own per-job overhead); with the SQLite store, the ratio and the share
// of a job's time the store takes; 1 and 2 worker processes against in-process invocation, and
// the scaling of 2 workers to 1. Needs redis-server (the tests install it; apt-get install redis-server).
// PIPELINE_BENCH_CPU_PROF=<folder>: each `pipeline worker` process writes a V8 CPU profile there
// (`--cpu-prof`; open it in Chrome's DevTools).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, noopHostProject } from './host.mjs';

const require = createRequire(import.meta.url);
require('@swc-node/register'); // the Redis launcher is the worker tests' helper, in TypeScript
const { startRedis } = require('../packages/worker/tests/helpers/redis.ts');
const { pipelineHandler, definePlugin } = require('@pipeline-invocation/core');
const { createInvoker } = require('@pipeline-invocation/invoker');
const { MemoryRunStore } = require('@pipeline-invocation/storage');
const { silentLogger } = require('@pipeline-invocation/observability');
const { InvocationQueue, redisConnection } = require('@pipeline-invocation/worker');

const JOBS = 4000;
/** The SQLite store's share of a job's time, at most (issue 27: halve the 36-45 % of before). */
const STORE_SHARE_TARGET = 0.2;
const cpuProf = process.env.PIPELINE_BENCH_CPU_PROF;
const profArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];

// A host project with one no-op plugin, for the worker processes.
const root = noopHostProject('bench-worker-');

const redis = await startRedis();
const queue = new InvocationQueue(redisConnection(redis.url));
const request = (n) => ({ service: 'noop', payload: { n }, metadata: {} });

// In-process baseline.
class Noop {
  handle() {
    return { statusCode: 200, body: 'ok' };
  }
}
pipelineHandler('noop')(Noop);
const inProcess = createInvoker({
  discover: false,
  outbox: false,
  env: {},
  logger: silentLogger,
  tracker: false,
  store: new MemoryRunStore(),
  plugins: [definePlugin({ handlers: [Noop] })],
});
for (let i = 0; i < 200; i++) await inProcess.invokePipelineHandler('noop', {});
let started = performance.now();
for (let i = 0; i < JOBS; i++) await inProcess.invokePipelineHandler('noop', { n: i });
const inProcessPerSec = JOBS / ((performance.now() - started) / 1000);

// A bare BullMQ worker: the same queue, a no-op processor; or (mode "invoker") a processor that
// calls invokePipelineHandler in process (memory store, no logs), to split our cost between the
// invoker's run lifecycle and the pipeline worker's own code.
const bare = join(root, 'bare-worker.cjs');
writeFileSync(
  bare,
  `const { Worker } = require(${JSON.stringify(require.resolve('bullmq'))});
const [port, concurrency] = process.argv.slice(2, 4).map(Number);
let processor = async () => ({ statusCode: 200 });
if (process.argv[4] === 'invoker') {
  const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');
  const { createInvoker } = require('@pipeline-invocation/invoker');
  const { MemoryRunStore } = require('@pipeline-invocation/storage');
  const { silentLogger } = require('@pipeline-invocation/observability');
  class Noop { handle() { return { statusCode: 200, body: 'ok' }; } }
  pipelineHandler('noop')(Noop);
  const invoker = createInvoker({ discover: false, outbox: false, env: {}, logger: silentLogger, tracker: false,
    store: new MemoryRunStore(), plugins: [definePlugin({ handlers: [Noop] })] });
  processor = (job) => invoker.invokePipelineHandler('noop', job.data.request.payload);
}
const worker = new Worker('noop', processor, {
  connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
  prefix: 'pipeline',
  concurrency,
});
process.on('SIGTERM', () => worker.close().then(() => process.exit(0)));
`,
);

async function throughput(workers, { concurrency = 16, store = 'memory', bareBullmq = false, bareMode = 'noop' } = {}) {
  await queue.queue('noop').obliterate({ force: true });
  const home = mkdtempSync(join(tmpdir(), 'bench-worker-home-'));
  const children = Array.from({ length: workers }, () =>
    bareBullmq
      ? spawn(process.execPath, [bare, String(redis.port), String(concurrency), bareMode], { stdio: 'inherit' })
      : spawn(process.execPath, [...profArgs, cli, 'worker', '--concurrency', String(concurrency)], {
          cwd: root,
          env: {
            PATH: process.env.PATH,
            REDIS_URL: redis.url,
            PIPELINE_STORE: store,
            PIPELINE_HOME: home,
            LOG_LEVEL: 'warn',
          },
          stdio: 'inherit',
        }),
  );
  // the children are stopped however this ends (a failed run must not leave a worker behind)
  try {
    while ((await queue.queue('noop').getWorkers()).length < workers) await new Promise((r) => setTimeout(r, 50));
    // Queue everything while paused, so only the workers' consumption is timed.
    await queue.queue('noop').pause();
    await Promise.all(Array.from({ length: JOBS }, (_, i) => queue.enqueue(request(i), { attempts: 1 })));
    started = performance.now();
    await queue.queue('noop').resume();
    for (;;) {
      const [counts] = await queue.stats(['noop']);
      if (counts.completed + counts.failed >= JOBS) {
        if (counts.failed) throw new Error(`${counts.failed} jobs failed`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return JOBS / ((performance.now() - started) / 1000);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.on('exit', r)) : undefined)));
    rmSync(home, { recursive: true, force: true });
  }
}

let ok;
try {
  const bare1 = await throughput(1, { concurrency: 1, bareBullmq: true });
  const bare16 = await throughput(1, { concurrency: 16, bareBullmq: true });
  const ours1 = await throughput(1, { concurrency: 1 });
  const ours16 = await throughput(1, { concurrency: 16 });
  const sqlite16 = await throughput(1, { concurrency: 16, store: 'sqlite' });
  const bareInvoker16 = await throughput(1, { concurrency: 16, bareBullmq: true, bareMode: 'invoker' });
  const row = (name, perSec, base) =>
    console.log(`  ${name.padEnd(52)} ${perSec.toFixed(0).padStart(7)}/s   ${(perSec / base).toFixed(3)}x`);
  console.log(`\n${JOBS} no-op jobs, one worker process: throughput (jobs/s), ratio to a bare BullMQ worker`);
  row('bare BullMQ worker, concurrency 1', bare1, bare1);
  row('pipeline worker, concurrency 1 (memory store)', ours1, bare1);
  row('bare BullMQ worker, concurrency 16', bare16, bare16);
  row('bare BullMQ calling the invoker in process, c16', bareInvoker16, bare16);
  row('pipeline worker, concurrency 16 (memory store)', ours16, bare16);
  row('pipeline worker, concurrency 16 (SQLite store)', sqlite16, bare16);
  // the store's share of a job: what SQLite adds to a job's time over the in-memory store
  const storeShare = (1 / sqlite16 - 1 / ours16) / (1 / sqlite16);
  const shareOk = storeShare <= STORE_SHARE_TARGET;
  console.log(
    `  share of a job's time in the SQLite store (durable records per run): ${(storeShare * 100).toFixed(0)} %, ` +
      `${shareOk ? 'meets' : 'MISSES'} the target of at most ${STORE_SHARE_TARGET * 100} % (half the 36-45 % measured before)`,
  );
  ok = ours16 / bare16 >= 0.8;
  console.log(
    `  -> ${(ours16 / bare16).toFixed(2)}x at concurrency 16, ${ok ? 'meets' : 'MISSES'} the target of at least 0.8x`,
  );
  ok = ok && shareOk;

  const one = ours16;
  const two = await throughput(2);
  console.log(`\n${JOBS} no-op invocations: throughput (invocations/s), ratio to in-process`);
  console.log(
    `  in-process invokePipelineHandler                   ${inProcessPerSec.toFixed(0).padStart(8)}/s   1.00x`,
  );
  console.log(
    `  queue, 1 worker process (concurrency 16)           ${one.toFixed(0).padStart(8)}/s   ${(one / inProcessPerSec).toFixed(3)}x`,
  );
  console.log(
    `  queue, 2 worker processes                          ${two.toFixed(0).padStart(8)}/s   ${(two / inProcessPerSec).toFixed(3)}x`,
  );
  console.log(
    `  scaling, 2 workers / 1 worker                                    ${(two / one).toFixed(2)}x (2 cores shared with Redis and the producer)`,
  );
} finally {
  await queue.close();
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
