import { z } from 'zod';
import {
  LOGGER,
  RUN_CONTEXT,
  inject,
  pipelineHandler,
  type HandlerResult,
  type Logger,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';

export const GREETING = Symbol.for('test.Greeting');

/** Answers with a greeting injected by token, and reports progress and metrics. */
@pipelineHandler('greet', { payload: z.object({ run_type: z.enum(['prod', 'backfill']), name: z.string().min(1) }) })
export class GreetHandler implements PipelineHandler<{ run_type: string; name: string }> {
  constructor(
    @inject(GREETING) private readonly greeting: string,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(RUN_CONTEXT) private readonly context: RunContext,
  ) {}
  handle(event: { name: string }, context: RunContext): HandlerResult {
    this.logger.info('greeting');
    context.progress(1, 2);
    context.metrics.log({ greeted: 1 });
    context.progress(2, 2);
    return {
      statusCode: 200,
      body: `${this.greeting}, ${event.name}`,
      metadata: { same_context: this.context === context, previous: context.previousRun?.run_id ?? null },
    };
  }
}

/** Fails in the ways handlers fail, chosen by payload.mode. */
@pipelineHandler('faulty')
export class FaultyHandler implements PipelineHandler<{ mode: string }> {
  async handle(event: { mode: string }, context: RunContext): Promise<HandlerResult> {
    switch (event.mode) {
      case 'throw':
        throw new Error('disk on fire');
      case 'retryable':
        throw Object.assign(new Error('upstream busy, try later'), { retryable: true });
      case 'throw-string':
        throw 'a plain string';
      case 'key-error': {
        const map = new Map<string, number>();
        if (!map.has('missing')) throw Object.assign(new Error("KeyError: 'missing'"), { name: 'KeyError' });
        return { statusCode: 200, body: '' };
      }
      case 'never':
        return new Promise<HandlerResult>(() => {});
      case 'slow-but-cooperative':
        return new Promise<HandlerResult>((resolve, reject) => {
          const t = setTimeout(() => resolve({ statusCode: 200, body: 'late' }), 10_000);
          context.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(context.signal.reason);
          });
        });
      case 'wrong-shape':
        return { status: 'ok' } as unknown as HandlerResult;
      case 'status-500':
        return { statusCode: 500, body: 'upstream said no' };
      default:
        return { statusCode: 200, body: `ok ${event.mode}`, metadata: { token: 'handler-secret', count: 3 } };
    }
  }
}
