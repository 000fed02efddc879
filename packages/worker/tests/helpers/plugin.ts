import { inject, pipelineHandler, definePlugin, type PipelineHandler } from '@pipeline-invocation/core';
import { createInvoker, type Invoker, type InvokerConfig } from '@pipeline-invocation/invoker';
import { silentLogger } from '@pipeline-invocation/observability';
import { redisConnection, startWorker } from '../../src';

/** Which worker ran a job: each test invoker registers its own name under this token. */
export const WORKER_NAME = Symbol.for('test.WorkerName');

interface Payload {
  mode?: 'fail' | 'retryable' | 'sleep';
  ms?: number;
  n?: number;
}

@pipelineHandler('job_service')
class JobHandler implements PipelineHandler<Payload> {
  constructor(@inject(WORKER_NAME) private readonly worker: string) {}
  async handle(event: Payload) {
    if (event.mode === 'fail') throw new Error('handler exploded');
    if (event.mode === 'retryable') throw Object.assign(new Error('upstream busy'), { retryable: true });
    if (event.mode === 'sleep') await new Promise((resolve) => setTimeout(resolve, event.ms ?? 1000));
    return { statusCode: 200, body: `done ${event.n ?? ''}`.trim(), metadata: { worker: this.worker } };
  }
}

/** A plugin whose handler reports which worker ran it. */
export const jobPlugin = definePlugin({ handlers: [JobHandler] });

/** An invoker with {@link jobPlugin} whose handler reports `name`, quiet and without outbox or tracker. */
export function jobInvoker(name: string, config: InvokerConfig = {}) {
  return createInvoker({
    discover: false,
    outbox: false,
    env: {},
    logger: silentLogger,
    tracker: false,
    storeRetryDelaysMs: [],
    plugins: [jobPlugin],
    register: (c) => c.register(WORKER_NAME, { useValue: name }),
    ...config,
  });
}

/** A worker of `invoker` on the Redis at `redisUrl`, with the tests' short stall settings (stalled jobs looked for every second, locks of 2 s). */
export function testWorker(invoker: Invoker, redisUrl: string, concurrency: number) {
  return startWorker({
    invoker,
    concurrency,
    connection: redisConnection(redisUrl),
    stalledIntervalMs: 1000,
    lockDurationMs: 2000,
  });
}
