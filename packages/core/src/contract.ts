import type { JsonObject } from './models/json-object';
import type { RunExecutionMetadata } from './models/run-record';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The logger a handler gets: structured, already bound to run id and service. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry `bindings` as well. */
  child(bindings: LogFields): Logger;
}

/** Numeric metrics a handler reports during a run (sent to the tracker, kept in the record). */
export interface MetricsSink {
  /** Log metrics; `step` defaults to a counter that grows with every call. */
  log(metrics: Record<string, number>, step?: number): void;
}

/** Everything a handler knows about the run it is serving. */
export interface RunContext {
  readonly runId: string;
  readonly service: string;
  /** The payload's `run_type` when it has one (`"prod"` / `"backfill"`). */
  readonly runType: string | undefined;
  readonly requestMetadata: Readonly<JsonObject>;
  /** The newest earlier run of this service, for incremental work; `undefined` on the first run. */
  readonly previousRun: RunExecutionMetadata | undefined;
  /** Aborted when the run times out or the caller cancels: stop soon and return or throw. */
  readonly signal: AbortSignal;
  /** When the run's timeout fires (ms since the epoch, on the invoker's clock); `undefined` without a timeout. */
  readonly deadlineMs?: number;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Report progress (`done` of `total` units); drives the CLI progress bar. */
  progress(done: number, total: number): void;
}

/** What a handler returns. `statusCode` >= 400 records the run as `FAILED`. */
export interface HandlerResult {
  statusCode: number;
  body: string;
  /** The handler's own metadata; stored (as a JSON string) in the record's `metadata`. */
  metadata?: JsonObject;
}

/**
 * A pipeline handler: a class decorated with `@pipelineHandler`, resolved from a DI container
 * once per run.
 *
 * @typeParam P - the validated payload type (the output of the handler's payload schema).
 */
export interface PipelineHandler<P = JsonObject> {
  handle(event: P, context: RunContext): Promise<HandlerResult> | HandlerResult;
}

export { systemClock, toClock, type Clock, type TimerHandle } from './clock';
