import type { HandlerResult, JsonObject } from '@pipeline-invocation/core';
import type { PythonProcessOutcome } from './process';
import type { PythonException } from './protocol';
import { importFix } from './import-fix';

/** What a run's result needs to say besides the process's outcome. */
export interface RunFacts {
  readonly service: string;
  readonly entry: string;
  readonly interpreter: string;
  readonly cwd: string;
  readonly pythonPath: readonly string[];
  /** Set when the run's signal was aborted: by a cancellation or by the run's timeout. */
  readonly stoppedBy: 'cancel' | 'timeout' | undefined;
}

/** Status code of a run the caller stopped (as core's CANCELLED_STATUS_CODE). */
const STOPPED_STATUS = 499;

/**
 * Turn how the process ended into the run's result. Every outcome is a result, never a throw,
 * so its details reach the record's metadata: `python_exception` for a raised exception,
 * `python_process` for how the process ended (exit code, signal, the cancellation steps).
 */
export function resultOf(outcome: PythonProcessOutcome, facts: RunFacts): HandlerResult {
  const where = `Python service "${facts.service}" (${facts.entry})`;
  if (outcome.spawnError) {
    const missing = outcome.spawnError.code === 'ENOENT';
    const message = missing
      ? `${where} could not start: the interpreter "${facts.interpreter}" was not found. ` +
        'Install Python 3.9 or later, or set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter" in package.json) to its path.'
      : `${where} could not start "${facts.interpreter}": ${outcome.spawnError.message}`;
    return failed(message, {
      python_exception: {
        type: missing ? 'InterpreterNotFound' : 'InterpreterNotStarted',
        message,
        phase: 'start',
        interpreter: facts.interpreter,
      },
    });
  }
  const process = processFacts(outcome, facts);
  const { closed } = outcome;
  if (facts.stoppedBy) {
    const how = outcome.signal ? `ended by ${outcome.signal}` : `exited with code ${String(outcome.exitCode)}`;
    const steps = outcome.escalation.map((s) => s.step).join(', ') || 'none';
    const handlerMetadata = closed?.result?.metadata ?? {};
    return {
      statusCode: closed?.result?.status_code ?? STOPPED_STATUS,
      body:
        closed?.result?.body ??
        `${where} was stopped (${facts.stoppedBy === 'timeout' ? 'timed out' : 'cancelled'}): the process ${how} after ${steps}.`,
      metadata: {
        ...(handlerMetadata as JsonObject),
        ...(closed?.exception ? { python_exception: exceptionMetadata(closed.exception) } : {}),
        python_process: process,
      },
    };
  }
  if (closed?.result) {
    return {
      statusCode: closed.result.status_code,
      body: closed.result.body,
      metadata: closed.result.metadata as JsonObject,
    };
  }
  if (closed?.exception) {
    const e = closed.exception;
    if (e.phase === 'import') {
      const searched = `${facts.interpreter} from ${[...facts.pythonPath, facts.cwd].join(', ')}`;
      return failed(
        `${where}: its entry point cannot be loaded: ${e.type}: ${e.message}. Fix: ${importFix(facts.entry, e.type, e.message, searched)}.` +
          (e.traceback ? `\nTraceback (last frames):\n${e.traceback}` : ''),
        { python_exception: exceptionMetadata(e), python_process: process },
      );
    }
    if (e.phase === 'result')
      return failed(`${where} returned an unusable result: ${e.message}`, {
        python_exception: exceptionMetadata(e),
        python_process: process,
      });
    return failed(
      `${where} raised ${e.type}: ${e.message}${e.traceback ? `\nTraceback (last frames):\n${e.traceback}` : ''}`,
      {
        python_exception: exceptionMetadata(e),
        python_process: process,
      },
    );
  }
  if (outcome.signal) {
    const oom = outcome.signal === 'SIGKILL' ? ' (by another process, or by the out-of-memory killer)' : '';
    return failed(`${where} was killed by ${outcome.signal}${oom} before it returned a result.`, {
      python_process: process,
    });
  }
  return failed(
    outcome.exitCode === 0
      ? `${where} exited with code 0 without reporting a result (did it close file descriptor 3?).`
      : `${where} exited with code ${String(outcome.exitCode)} before it returned a result.`,
    { python_process: process },
  );
}

function failed(body: string, metadata: JsonObject): HandlerResult {
  return { statusCode: 500, body, metadata };
}

function exceptionMetadata(e: PythonException): JsonObject {
  return {
    type: e.type,
    ...(e.module && e.module !== 'builtins' ? { module: e.module } : {}),
    message: e.message,
    ...(e.phase ? { phase: e.phase } : {}),
    ...(e.traceback ? { traceback: e.traceback } : {}),
  };
}

function processFacts(outcome: PythonProcessOutcome, facts: RunFacts): JsonObject {
  return {
    // the OS's pid: known even when the run was stopped before the runner said `opened`
    pid: outcome.opened?.pid ?? outcome.pid ?? null,
    python: outcome.opened?.python ?? null,
    exited: outcome.exitCode !== null || outcome.signal !== null,
    exit_code: outcome.exitCode,
    signal: outcome.signal,
    ...(facts.stoppedBy ? { stopped_by: facts.stoppedBy } : {}),
    ...(outcome.escalation.length
      ? { escalation: outcome.escalation.map((s) => ({ step: s.step, at_ms: s.atMs })) }
      : {}),
  };
}
