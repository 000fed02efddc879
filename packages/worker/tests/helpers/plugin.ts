import { inject, pipelineHandler, definePlugin, type PipelineHandler } from '@pipeline-invocation/core';

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
