// A script that uses the top-level queue functions, run as a real process against a real Redis:
// it prints its result and ends by itself; a misspelt service or a bad payload is refused at
// once with the invoker's typed errors; waitForRun's failures are typed too.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@pipeline-invocation/observability';
import { createInvoker } from '@pipeline-invocation/invoker';
import { InvocationQueue, redisConnection, startWorker, type RunningWorker } from '../src';
import { cjsPlugin, createHostProject, type FixturePlugin } from '../../invoker/tests/helpers/host-project';
import { startRedis, type LocalRedis } from './helpers/redis';
import { tempDir } from '../../../tests/support/temp-dir';

/** A plugin whose handler declares a payload schema (zod), as most do. */
const schemaPlugin: FixturePlugin = {
  name: 'schema-plugin',
  manifest: { contract: '^1.0.0', services: ['word_service'] },
  files: {
    'index.js': `
      const { definePlugin, pipelineHandler, z } = require('@pipeline-invocation/core');
      class Word { handle(event) { return { statusCode: 200, body: 'word ' + event.word }; } }
      pipelineHandler('word_service', { payload: z.object({ word: z.string() }) })(Word);
      module.exports = { __esModule: true, default: definePlugin({ handlers: [Word] }) };
    `,
  },
  packageJson: { main: 'index.js' },
};
const root = createHostProject([cjsPlugin('script-plugin', ['script_service']), schemaPlugin]);
const home = tempDir('queue-script-');

let redis: LocalRedis;
let worker: RunningWorker;
beforeAll(async () => {
  redis = await startRedis();
  worker = await startWorker({
    invoker: createInvoker({ root, env: { PIPELINE_HOME: home }, logger: silentLogger, tracker: false }),
    connection: redisConnection(redis.url),
  });
});
afterAll(async () => {
  await worker.close(1000);
  await redis.stop();
});

/** Run `source` (CommonJS) with node in the host project; resolves when the process exits by itself. */
function runScript(source: string, timeoutMs = 20_000) {
  const file = join(root, `script-${Math.random().toString(36).slice(2)}.cjs`);
  writeFileSync(file, source);
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { PATH: process.env.PATH, REDIS_URL: redis.url, PIPELINE_HOME: home, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the script did not exit by itself within ${timeoutMs} ms; stdout: ${stdout}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('a script using enqueueInvocation and waitForRun', () => {
  it("prints the run's result and exits by itself", async () => {
    const result = await runScript(`
      const { enqueueInvocation, waitForRun } = require('@pipeline-invocation/worker');
      (async () => {
        const job = await enqueueInvocation({ service: 'script_service', payload: { run_type: 'prod' }, metadata: {} });
        const record = await waitForRun(job, { timeoutMs: 10000 });
        console.log(JSON.stringify({ status: record.status, body: record.body }));
      })();
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ status: 'SUCCEEDED', body: 'script_service done' });
    expect(result.code).toBe(0);
  }, 30_000);

  it('ends at once with closeQueue()', async () => {
    const result = await runScript(`
      const { enqueueInvocation, waitForRun, closeQueue } = require('@pipeline-invocation/worker');
      (async () => {
        const record = await waitForRun(await enqueueInvocation({ service: 'script_service', payload: {}, metadata: {} }));
        console.log(record.status);
        await closeQueue();
      })();
    `);
    expect([result.code, result.stdout.trim()]).toEqual([0, 'SUCCEEDED']);
  }, 30_000);

  it('a misspelt service is refused at once with UnknownServiceError, and nothing is queued', async () => {
    const result = await runScript(`
      const { enqueueInvocation } = require('@pipeline-invocation/worker');
      enqueueInvocation({ service: 'script_servce', payload: {}, metadata: {} }).then(
        () => console.log('queued'),
        (error) => console.log(JSON.stringify({ name: error.name, message: error.message })),
      );
    `);
    const error = JSON.parse(result.stdout);
    expect(error.name).toBe('UnknownServiceError');
    expect(error.message).toContain('script_service');
    expect(result.code).toBe(0);
    const queue = new InvocationQueue(redisConnection(redis.url));
    try {
      expect((await queue.stats(['script_servce']))[0]).toMatchObject({ waiting: 0, active: 0, completed: 0 });
    } finally {
      await queue.close();
    }
  }, 30_000);
});

describe('typed errors', () => {
  let queue: InvocationQueue;
  beforeEach(() => {
    const invoker = createInvoker({ root, env: { PIPELINE_HOME: home }, logger: silentLogger, tracker: false });
    queue = new InvocationQueue(redisConnection(redis.url), { invoker });
  });
  afterEach(() => queue.close());

  it('enqueue refuses an unknown service and a bad payload as invokePipelineHandler does', async () => {
    await expect(queue.enqueue({ service: 'nope', payload: {}, metadata: {} })).rejects.toMatchObject({
      name: 'UnknownServiceError',
    });
    await expect(queue.enqueue({ service: 'word_service', payload: { word: 1 }, metadata: {} })).rejects.toMatchObject({
      name: 'InvalidRequestError',
      message: expect.stringContaining('word'),
    });
    expect((await queue.stats(['nope', 'word_service'])).map((c) => c.waiting)).toEqual([0, 0]);
    const job = await queue.enqueue({ service: 'word_service', payload: { word: 'ok' }, metadata: {} });
    expect((await queue.waitForRun(job, { timeoutMs: 10_000 })).body).toBe('word ok');
  });

  it('waitForRun: JobNotFoundError, InvalidRequestError for a bad handle, WaitTimeoutError', async () => {
    await expect(queue.waitForRun('script_service/no-such-job', { timeoutMs: 500 })).rejects.toMatchObject({
      name: 'JobNotFoundError',
    });
    await expect(queue.waitForRun('not-a-handle')).rejects.toMatchObject({ name: 'InvalidRequestError' });
    const job = await queue.enqueue({ service: 'script_service', payload: { mode: 'sleep', ms: 3000 }, metadata: {} });
    await expect(queue.waitForRun(job, { timeoutMs: 200 })).rejects.toMatchObject({
      name: 'WaitTimeoutError',
      message: expect.stringContaining('did not finish within 200 ms'),
    });
    expect((await queue.waitForRun(job, { timeoutMs: 10_000 })).status).toBe('SUCCEEDED');
  }, 30_000);
});
