import {
  CLOCK,
  ENV,
  inject,
  pipelineHandler,
  systemClock,
  type Clock,
  type Env,
  type HandlerClass,
  type HandlerResult,
  type JsonObject,
  type LogFields,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';
import { interpreterFrom, killAfterMsFrom, type PythonService, type ResolvedPythonConfig } from './config';
import { RUNNER_PATH, pythonPathFor, runPythonProcess } from './process';
import { resultOf, type RunFacts } from './result';
import { activeTraceparent } from './traceparent';

/**
 * Make the handler class of one configured Python service: each run starts the interpreter on
 * this package's runner, which imports the entry point and calls it as
 * `handler(event=payload, context=ctx)`.
 */
export function pythonHandlerClass(spec: PythonService, config: ResolvedPythonConfig): HandlerClass {
  @pipelineHandler(spec.service, { payload: spec.payloadSchema })
  class PythonServiceHandler implements PipelineHandler<JsonObject> {
    constructor(
      @inject(ENV) private readonly env: Env,
      @inject(CLOCK) private readonly clock: Clock,
    ) {}

    handle(event: JsonObject, context: RunContext): Promise<HandlerResult> {
      return runPythonService(spec, config, event, context, this.env, this.clock);
    }
  }
  Object.defineProperty(PythonServiceHandler, 'name', { value: `PythonService(${spec.service})` });
  return PythonServiceHandler;
}

const LEVELS: Record<string, 'debug' | 'info' | 'warn' | 'error'> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'error',
};

/** One run of a Python service: its process, its messages, and the result they make. */
export async function runPythonService(
  spec: PythonService,
  config: ResolvedPythonConfig,
  payload: JsonObject,
  context: RunContext,
  env: Env,
  clock: Clock = systemClock,
): Promise<HandlerResult> {
  const interpreter = interpreterFrom(env, config.interpreter);
  const killAfterMs = killAfterMsFrom(env, config.killAfterMs);
  const traceparent = activeTraceparent();
  const timeoutMs = Number(env.PIPELINE_TIMEOUT_MS);
  const deadlineMs =
    context.deadlineMs ?? (Number.isFinite(timeoutMs) && timeoutMs > 0 ? clock.now() + timeoutMs : undefined);
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    PYTHONPATH: pythonPathFor(config.pythonPath, config.cwd, env.PYTHONPATH ?? process.env.PYTHONPATH),
    ...(traceparent ? { TRACEPARENT: traceparent } : {}),
  };
  const signal = context.signal;
  const logger = context.logger;
  const outcome = await runPythonProcess({
    interpreter,
    args: ['-u', RUNNER_PATH],
    cwd: config.cwd,
    env: childEnv,
    killAfterMs,
    signal,
    logger,
    clock,
    context: {
      entry: spec.entry,
      run_id: context.runId,
      service: context.service,
      run_type: context.runType ?? null,
      request_metadata: context.requestMetadata,
      previous_run: context.previousRun ?? null,
      deadline_ms: deadlineMs ?? null,
      payload,
    },
    onMessage: (message) => {
      switch (message.type) {
        case 'log': {
          const fields: LogFields = message.logger ? { logger: message.logger } : {};
          logger[LEVELS[message.level] ?? 'info'](message.message, fields);
          break;
        }
        case 'progress':
          context.progress(message.done, message.total);
          break;
        case 'metric':
          context.metrics.log({ [message.name]: message.value });
          break;
        case 'opened':
          logger.debug(`python ${message.python} started (pid ${message.pid})`, { entry: message.entry });
          break;
      }
    },
  });
  const reason = signal.aborted ? (signal.reason as { name?: unknown } | undefined) : undefined;
  const facts: RunFacts = {
    service: spec.service,
    entry: spec.entry,
    interpreter,
    cwd: config.cwd,
    pythonPath: config.pythonPath,
    stoppedBy: signal.aborted ? (reason?.name === 'HandlerTimeoutError' ? 'timeout' : 'cancel') : undefined,
  };
  const result = resultOf(outcome, facts);
  // a failure of the process (not a status the handler chose) is worth a line in the run's log
  if (!outcome.closed?.result && !facts.stoppedBy) logger.error(result.body);
  return result;
}
