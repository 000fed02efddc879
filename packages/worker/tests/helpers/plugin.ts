import {
  RUN_CONTEXT,
  inject,
  pipelineHandler,
  definePlugin,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';
import { createInvoker, type Invoker, type InvokerConfig } from '@pipeline-invocation/invoker';
import { silentLogger } from '@pipeline-invocation/observability';
import { redisConnection, startWorker } from '../../src';

/** Which worker ran a job: each test invoker registers its own name under this token. */
export const WORKER_NAME = Symbol.for('test.WorkerName');

interface Payload {
  /** `sleep` ignores the run's signal; `cooperative-sleep` stops when it aborts. */
  mode?: 'fail' | 'retryable' | 'sleep' | 'cooperative-sleep';
  ms?: number;
  n?: number;
}

/** Handlers under way right now in this process, and the most there ever were at once. */
export const handlersRunning = { now: 0, max: 0, started: 0 };

@pipelineHandler('job_service')
class JobHandler implements PipelineHandler<Payload> {
  constructor(
    @inject(WORKER_NAME) private readonly worker: string,
    @inject(RUN_CONTEXT) private readonly context: RunContext,
  ) {}
  async handle(event: Payload) {
    handlersRunning.started += 1;
    handlersRunning.max = Math.max(handlersRunning.max, ++handlersRunning.now);
    try {
      if (event.mode === 'fail') throw new Error('handler exploded');
      if (event.mode === 'retryable') throw Object.assign(new Error('upstream busy'), { retryable: true });
      if (event.mode === 'sleep') await new Promise((resolve) => setTimeout(resolve, event.ms ?? 1000));
      if (event.mode === 'cooperative-sleep') {
        const { signal } = this.context;
        const stopped = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), event.ms ?? 1000);
          signal.addEventListener('abort', () => (clearTimeout(timer), resolve(true)), { once: true });
        });
        if (stopped) return { statusCode: 200, body: 'stopped early', metadata: { worker: this.worker } };
      }
      return { statusCode: 200, body: `done ${event.n ?? ''}`.trim(), metadata: { worker: this.worker } };
    } finally {
      handlersRunning.now -= 1;
    }
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
