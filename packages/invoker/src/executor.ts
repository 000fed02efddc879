import type { DependencyContainer } from 'tsyringe';
import {
  AbortError,
  CANCELLED_STATUS_CODE,
  DEFAULT_METADATA_TABLE_NAME,
  HandlerTimeoutError,
  LIFECYCLE_DEFAULTS,
  LOGGER,
  MetadataWriteError,
  RUN_CONTEXT,
  RunCancelledError,
  UnknownServiceError,
  describe,
  errorPolicy,
  isRetryableStatus,
  newRunId,
  outcomeOfThrown,
  parseWith,
  payloadHash,
  toJsonValue,
  type Clock,
  type RunLifecycle,
  type HandlerResult,
  type IntegrationRequest,
  type Logger,
  type PipelineHandlerRegistry,
  type RunContext,
  type RunExecutionMetadata,
  type RunStore,
  type Tracker,
} from '@pipeline-invocation/core';
import type { Outbox } from '@pipeline-invocation/storage';
import { RunMetrics, type Redactor } from '@pipeline-invocation/observability';
import { HandlerSignal, RunCancel } from './executor-signal';
import { isoTime } from './executor-time';
import { describeBadHandlerResult } from './handler-result';
import { Heartbeat } from './heartbeat';
import {
  endRun,
  fail,
  NO_SPAN,
  inRunSpan,
  inSpan,
  recordRunMetrics,
  traceIdOf,
  type Context,
  type Span,
  type SpanKind,
} from './telemetry';

/** Per-call options of an invocation. */
export interface InvokeOptions {
  /** Abort the handler after this many ms (handler construction included) and record TIMED_OUT (504). */
  timeoutMs?: number;
  /**
   * A second call with the same key and payload whose run SUCCEEDED returns that record
   * (marked `replayed: true`) without running; one whose run is still RUNNING with a fresh
   * heartbeat is refused with RunConflictError; the same key with another payload is refused
   * with IdempotencyKeyMismatchError. FAILED, TIMED_OUT, CANCELLED and CRASHED keys run again.
   * Defaults to `requestMetadata.request_id` when that is a string.
   */
  idempotencyKey?: string;
  /**
   * Cancels the run. Aborted before the run starts: nothing runs and AbortError is thrown.
   * Aborted later: the handler's signal aborts, it gets `cancelGraceMs` to settle, and the run is
   * recorded CANCELLED (499).
   */
  signal?: AbortSignal;
  /** How long a cancelled handler may take to settle before CANCELLED is written (ms; default 10 000). */
  cancelGraceMs?: number;
  /** Aborting this stops waiting for a cancelled handler to settle (a second Ctrl-C). */
  forceSignal?: AbortSignal;
  /** Called when the handler reports progress. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Return only once the handler has settled, even when its run was recorded CANCELLED or
   * TIMED_OUT with `handler_settled: false` after its grace: a queue worker keeps the job's slot
   * until then, so no more handlers run than its concurrency allows.
   */
  holdUntilSettled?: boolean;
  /** Called once the RUNNING record is written (a queue worker remembers which run an attempt owns). */
  onRunStarted?: (record: RunExecutionMetadata) => void | Promise<void>;
  /** The schedule that started this run: kept in the record as `schedule_id`. */
  scheduleId?: string;
  /**
   * The queue job running this run: kept in the record as `job_id`, so that the job's next
   * attempt finds the run a dead worker left RUNNING (one store query, only on a re-attempt).
   */
  jobId?: string;
  /** The trace context the run's span continues (a queued job's producer); default: the active one. */
  traceContext?: Context;
  /** The kind of the run's span: INTERNAL (default), or CONSUMER for a run taken from a queue. */
  spanKind?: SpanKind;
}

/** What the executor needs; the invoker supplies it. */
export interface ExecutorDeps {
  readonly registry: PipelineHandlerRegistry;
  readonly container: DependencyContainer;
  readonly store: RunStore;
  /** The run lifecycle over `store`: every write of a run record goes through it. */
  readonly lifecycle: RunLifecycle;
  /** `undefined`: no tracking calls at all. */
  readonly tracker: Tracker | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly outbox: Outbox | undefined;
  /** Removes secrets from records before they are stored. */
  readonly redactor?: Redactor;
  /** Table name stored in each record's `metadata_table_name`. */
  readonly tableName?: string;
  /** How often a RUNNING record's heartbeat is renewed (ms); default 10 000. */
  readonly heartbeatMs?: number;
  /** Default grace for a cancelled handler to settle (ms); default 10 000. */
  readonly cancelGraceMs?: number;
  /** Default handler timeout (ms); none when unset. */
  readonly defaultTimeoutMs?: number;
  /** `false`: no spans or metrics from this executor (default: through the OpenTelemetry API). */
  readonly telemetry?: boolean;
}

/** Delays between attempts of a store write (ms), as the original library: 1 s, then 2 s. */
export const DEFAULT_STORE_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1000, 2000]);

export { LIFECYCLE_DEFAULTS };

type Outcome = Pick<RunExecutionMetadata, 'status' | 'status_code' | 'body' | 'error' | 'handler_settled'> & {
  handlerMetadata?: unknown;
};

/**
 * Runs one validated request through the run lifecycle: previous run loaded, RUNNING record
 * written (conditional on the idempotency key), heartbeat renewed while the handler runs in its
 * own child container with timeout and cancellation, and exactly one terminal record written
 * (retried, else kept in the outbox and MetadataWriteError raised). Once the RUNNING record
 * exists, nothing escapes without a terminal record; tracking never fails a run.
 */
export class Executor {
  constructor(private readonly deps: ExecutorDeps) {}

  /** When this executor last looked for dead runs of each service (ms). */
  private readonly sweptAtMs = new Map<string, number>();

  /**
   * Runs of `service` whose process died stay RUNNING until someone notices: a later run with
   * their key does, and for runs without one, this does, before a run of the service, at most
   * once per staleness period. Never fails a run.
   */
  private sweepDue(service: string): boolean {
    const nowMs = this.deps.clock.now();
    const last = this.sweptAtMs.get(service);
    if (last !== undefined && nowMs - last < this.deps.lifecycle.staleAfterMs) return false;
    this.sweptAtMs.set(service, nowMs);
    return true;
  }

  /** The sweep itself, when {@link sweepDue} said so. */
  private async sweepStale(service: string): Promise<void> {
    const { lifecycle } = this.deps;
    try {
      const marked = await lifecycle.sweepStale(service, {
        name: 'RunCrashed',
        body: 'The run stopped without finishing (no heartbeat: its process died); marked CRASHED by a later run of its service.',
      });
      if (marked) this.deps.logger.warn(`marked ${marked} run(s) of ${service} CRASHED: no heartbeat`, { service });
    } catch (error) {
      this.deps.logger.warn(`could not look for dead runs of ${service}: ${describe(error)}`, { service });
    }
  }

  /** The lifecycle this executor writes run records through. */
  get lifecycle(): RunLifecycle {
    return this.deps.lifecycle;
  }

  /**
   * Run `request` inside its span, `pipeline.invoke <service>` (a no-op without an OpenTelemetry
   * SDK): child spans for the store writes and the handler, the run's attributes and status, and
   * the `pipeline.runs` / `pipeline.run.duration` metrics.
   */
  private get off(): boolean {
    return this.deps.telemetry === false;
  }

  async execute(request: IntegrationRequest, options: InvokeOptions = {}): Promise<RunExecutionMetadata> {
    return inRunSpan(request.service, options, this.off, (span) => this.executeIn(span, request, options));
  }

  /** {@link execute} inside a run span the caller started (the invoker, to put the plugin load in it). */
  async executeIn(span: Span, request: IntegrationRequest, options: InvokeOptions): Promise<RunExecutionMetadata> {
    const record = await this.run(request, options, span);
    endRun(span, record);
    if (!record.replayed && !this.off) recordRunMetrics(record);
    return record;
  }

  private async run(request: IntegrationRequest, options: InvokeOptions, span: Span): Promise<RunExecutionMetadata> {
    const { registry, store, clock, lifecycle } = this.deps;
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(request.service, { cause: signal.reason });
    if (!registry.has(request.service)) throw new UnknownServiceError(request.service, registry.listServices());
    const resolvedPayloadSchema = registry.payloadSchemaOf(request.service);
    const payload = resolvedPayloadSchema
      ? (parseWith(resolvedPayloadSchema, request.payload, `Invalid payload for "${request.service}"`) as Record<
          string,
          unknown
        >)
      : request.payload;

    const previousRun = await this.storeCall(request.service, () =>
      lifecycle.retrying(() => store.latest(request.service)),
    );
    const source = registry.sourceOf(request.service)!;
    const startedMs = clock.now();
    const started = isoTime(startedMs);
    const idempotencyKey = options.idempotencyKey ?? stringOrUndefined(request.metadata.request_id);
    // (fields set one by one, in the record's order: a literal with conditional spreads makes an
    // object per spread)
    const running = {
      service: request.service,
      timestamp: started,
      status_code: 0,
      body: '',
      metadata_table_name: this.deps.tableName ?? DEFAULT_METADATA_TABLE_NAME,
      metadata: '{}',
      run_id: newRunId(startedMs),
      status: 'RUNNING',
    } as RunExecutionMetadata;
    if (typeof payload.run_type === 'string') running.run_type = this.redactString(payload.run_type);
    running.started_at = started;
    running.heartbeat_at = started;
    running.handler_package = source.package;
    running.handler_version = source.version;
    running.request_metadata = this.redact(request.metadata);
    if (idempotencyKey) {
      running.idempotency_key = idempotencyKey;
      running.payload_hash = payloadHash(payload);
    }
    if (options.scheduleId) running.schedule_id = options.scheduleId;
    if (options.jobId) running.job_id = options.jobId;
    const traceId = traceIdOf(span);
    if (traceId) running.trace_id = traceId;
    // A run span that records nothing (no SDK, or the run not sampled) gets no child spans: they
    // would record nothing either, and cost microseconds each.
    const childSpansOff = this.off || !span.isRecording();
    if (!childSpansOff)
      span.setAttributes({
        'pipeline.run_id': running.run_id,
        ...(running.run_type ? { 'pipeline.run_type': running.run_type } : {}),
        'pipeline.handler.package': source.package,
        'pipeline.handler.version': source.version,
        'pipeline.idempotency_key.present': idempotencyKey !== undefined,
      });

    if (signal?.aborted) throw new AbortError(request.service, { cause: signal.reason });
    if (this.sweepDue(request.service)) await this.sweepStale(request.service);
    const beginning = () => this.storeCall(request.service, () => lifecycle.begin(running));
    // a child span only where it records something (an async wrapper less per write otherwise)
    const begun = await (childSpansOff ? beginning() : inSpan('pipeline.store.begin', {}, beginning));
    if (!begun.started) return begun.replayed;

    // The RUNNING record exists now: from here every path ends in one terminal record.
    const logger = this.deps.logger.child({ run_id: running.run_id, service: running.service });
    if (begun.tookOverFrom)
      logger.warn(`run ${begun.tookOverFrom} held the idempotency key with a stale heartbeat: marked CRASHED`);
    // Cancellation (`pipeline cancel`, the run ended elsewhere) aborts this; the handler sees it,
    // its timeout and the caller's signal as one signal.
    const cancel = new RunCancel();
    const heartbeat = new Heartbeat(
      lifecycle,
      running,
      this.deps.heartbeatMs ?? LIFECYCLE_DEFAULTS.heartbeatMs,
      clock,
      logger,
      (reason) => cancel.abort(reason),
    );
    heartbeat.start();
    // a tracker that does nothing (tracking off) gets no calls: the run costs what it would without
    // one (asked once per run, so a run's start and finish go to the same tracker or to none)
    const tracker = this.deps.tracker?.idle ? undefined : this.deps.tracker;
    const metrics = new RunMetrics(
      tracker && ((m, step) => this.safely(logger, () => tracker.log(running.run_id, m, step))),
    );
    let final: RunExecutionMetadata;
    let work: Promise<unknown> | undefined;
    try {
      if (options.onRunStarted)
        await this.safely(logger, () => options.onRunStarted!(running), 'the onRunStarted hook failed');
      const tracking = tracker && this.safely(logger, () => tracker.start({ record: running, payload }));
      if (tracking) await tracking;
      logger.info('run started', {
        handler: `${source.package}@${source.version}`,
        previous_run_id: previousRun?.run_id,
      });
      const handled = await this.runHandler(request, payload, running, cancel, {
        logger,
        metrics,
        previousRun,
        options,
        childSpansOff,
      });
      work = handled.work;
      final = this.finalRecord(running, handled.outcome, metrics, startedMs);
    } catch (error) {
      // Nothing above should throw; if something does, the run still ends in a record.
      logger.error('the run failed outside its handler', { error: describe(error) });
      final = this.finalRecord(running, failure(error, 'Run failed'), metrics, startedMs);
    } finally {
      heartbeat.stop();
    }
    logger.info('run finished', {
      status: final.status,
      status_code: final.status_code,
      duration_ms: final.duration_ms,
    });
    const stored = await this.settle(final, logger, childSpansOff, tracker);
    if (options.holdUntilSettled && work && final.handler_settled === false) {
      logger.warn('waiting for the stopped handler to settle before freeing its slot');
      await work.then(
        () => {},
        () => {},
      );
    }
    return stored;
  }

  /** Write the terminal record and tell the run's tracker (the one its start was told); returns the record the store holds. */
  private async settle(
    final: RunExecutionMetadata,
    logger: Logger,
    childSpansOff: boolean,
    tracker: Tracker | undefined,
  ): Promise<RunExecutionMetadata> {
    let writeError: unknown;
    let stored = final;
    try {
      const finishing = () => this.deps.lifecycle.finish(final);
      const result = await (childSpansOff ? finishing() : inSpan('pipeline.store.finish', {}, finishing));
      if (result.ok && result.superseded) {
        logger.warn(`run had been presumed ${result.superseded.status}; its own record replaces that`);
      }
      if (!result.ok) {
        // Another process ended this run first (e.g. marked it CRASHED while this one was
        // unreachable): the first terminal record wins, and it is what the caller gets.
        logger.warn(`run was already ended as ${result.existing.status}; that record stands`, {
          this_outcome: final.status,
        });
        stored = result.existing;
      }
    } catch (error) {
      writeError = error;
    }
    const tracking = tracker && this.safely(logger, () => tracker.finish(stored));
    if (tracking) await tracking;
    if (writeError !== undefined) throw this.keep(final, writeError, logger);
    return stored;
  }

  private finalRecord(
    running: RunExecutionMetadata,
    outcome: Outcome,
    metrics: RunMetrics,
    startedMs: number,
  ): RunExecutionMetadata {
    const endedMs = this.deps.clock.now();
    const { handlerMetadata, ...result } = outcome;
    let ended: Omit<Outcome, 'handlerMetadata'> = result;
    let metadata: string;
    const summary = metrics.summary();
    const metricsPart = Object.keys(summary).length ? { metrics: summary, metric_steps: metrics.steps() } : {};
    try {
      // no handler metadata and no metrics: '{}', what the JSON below makes of them, without making it
      const empty = handlerMetadata === undefined && !('metrics' in metricsPart);
      const json = empty || handlerMetadata === undefined ? {} : toJsonValue(handlerMetadata);
      metadata = empty ? '{}' : JSON.stringify({ ...(this.redact(json) as object), ...metricsPart });
    } catch (error) {
      ended = failure(error, 'Handler failed');
      metadata = JSON.stringify(metricsPart);
    }
    // what the handler said is redacted here; the rest was redacted when the RUNNING record was made
    // (as `{ ...rest, ...ended, metadata, ended_at, duration_ms }`, same fields in the same order;
    // a literal of several spreads costs a few µs a run)
    const { heartbeat_at: _beat, ...rest } = running;
    const record: RunExecutionMetadata = Object.assign(rest, this.redact(ended));
    record.metadata = metadata;
    record.ended_at = isoTime(endedMs);
    record.duration_ms = Math.max(0, endedMs - startedMs);
    return record;
  }

  /**
   * The final record could not be written: keep it in the outbox; if even that fails (the same
   * full disk, say), log the whole record as a last resort so it can be recovered from the logs.
   */
  private keep(final: RunExecutionMetadata, writeError: unknown, logger: Logger): MetadataWriteError {
    const { outbox } = this.deps;
    const kept = { record: final };
    if (outbox) {
      try {
        outbox.append(final);
        return new MetadataWriteError(
          final.service,
          writeError,
          `The record of run ${final.run_id} was kept in ${outbox.file}; it is written on the next invocation or by \`pipeline outbox --flush\`.`,
          kept,
        );
      } catch (outboxError) {
        logger.error('run record could not be stored nor kept in the outbox: here it is in full', {
          record: final,
          outbox_error: describe(outboxError),
        });
        return new MetadataWriteError(
          final.service,
          writeError,
          `Keeping it in ${outbox.file} failed too (${describe(outboxError)}); the full record of run ${final.run_id} was logged to stderr. Set PIPELINE_OUTBOX to a file on another disk.`,
          kept,
        );
      }
    }
    logger.error('run record could not be stored: here it is in full', { record: final });
    return new MetadataWriteError(
      final.service,
      writeError,
      `The full record of run ${final.run_id} was logged.`,
      kept,
    );
  }

  /**
   * Construct and run the handler under the timeout and cancellation; never throws. A timeout
   * settles like a cancellation: the handler's signal aborts, it gets its grace to settle, and
   * only then is the outcome decided, saying whether it had stopped (`handler_settled`).
   */
  private async runHandler(
    request: IntegrationRequest,
    payload: Record<string, unknown>,
    running: RunExecutionMetadata,
    cancel: RunCancel,
    run: {
      logger: Logger;
      metrics: RunMetrics;
      previousRun: RunExecutionMetadata | undefined;
      options: InvokeOptions;
      childSpansOff: boolean;
    },
  ): Promise<{ outcome: Outcome; work?: Promise<HandlerResult> }> {
    const { clock } = this.deps;
    const timeoutMs = run.options.timeoutMs ?? this.deps.defaultTimeoutMs;
    const callerSignal = run.options.signal;
    // A timer of the one clock (fake timers drive it; it is cleared when the run ends), not
    // AbortSignal.timeout, whose Node-internal timer neither.
    const signal = new HandlerSignal(cancel, callerSignal);
    const timer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => signal.timeout(new HandlerTimeoutError(request.service, timeoutMs)), timeoutMs);
    const context: RunContext = Object.freeze({
      runId: running.run_id,
      service: running.service,
      runType: running.run_type,
      requestMetadata: request.metadata,
      previousRun: run.previousRun,
      get signal() {
        return signal.signal;
      },
      ...(timeoutMs === undefined ? {} : { deadlineMs: clock.now() + timeoutMs }),
      logger: run.logger,
      metrics: run.metrics,
      progress: (done: number, total: number) => run.options.onProgress?.(done, total),
    });
    let work: Promise<HandlerResult> | undefined;
    try {
      if (!signal.aborted) {
        // Construction (a lazy factory, the plugin's collaborators) counts inside the timeout. The
        // handler runs in its span's context: spans it (or a library it calls) starts are children.
        const handling = async (span: Span): Promise<HandlerResult> => {
          const child = (this.deps.registry.containerOf(request.service) ?? this.deps.container).createChildContainer();
          child.register(RUN_CONTEXT, { useValue: context });
          child.register(LOGGER, { useValue: run.logger });
          const { handler } = await this.deps.registry.getHandler(request.service, child);
          const result = await handler.handle(payload, context);
          if (result && typeof result.statusCode === 'number' && result.statusCode >= 400)
            fail(span, new Error(`status ${result.statusCode}: ${String(result.body).slice(0, 200)}`));
          return result;
        };
        // (no span: what inSpan does when off, without making the span's name)
        work = run.childSpansOff ? handling(NO_SPAN) : inSpan(`pipeline.handler ${request.service}`, {}, handling);
        work.catch(() => {}); // a handler that fails after being stopped is not an unhandled rejection
      }
      const outcome = checkResult(await signal.race(work));
      return { outcome, work };
    } catch (error) {
      if (signal.aborted) {
        const timedOut = signal.timedOut && !cancel.aborted && !callerSignal?.aborted;
        return { outcome: await this.stopped(timedOut, signal.reason, work, run), work };
      }
      run.logger.error('handler failed', { error: describe(error) });
      return { outcome: failure(error, 'Handler failed'), work };
    } finally {
      clock.clearTimeout(timer);
      signal.dispose();
    }
  }

  /**
   * A run stopped by a cancellation or its timeout: give the handler its grace to settle
   * (keeping what it reports), then CANCELLED (499) or TIMED_OUT (504), saying whether it had.
   */
  private async stopped(
    timedOut: boolean,
    reason: unknown,
    work: Promise<HandlerResult> | undefined,
    run: { logger: Logger; options: InvokeOptions },
  ): Promise<Outcome> {
    const graceMs = run.options.cancelGraceMs ?? this.deps.cancelGraceMs ?? LIFECYCLE_DEFAULTS.cancelGraceMs;
    const why = timedOut
      ? (reason as Error).message.replace(/\.$/, '')
      : isNamed(reason, 'RunCancelledError')
        ? (reason as RunCancelledError).reason
        : 'the caller aborted';
    run.logger.warn(timedOut ? `handler timed out: ${why}; stopping it` : `cancelling the run: ${why}`);
    const startedMs = this.deps.clock.now();
    const settled = work ? await settleWithin(work, graceMs, this.deps.clock, run.options.forceSignal) : 'not started';
    const waitedMs = this.deps.clock.now() - startedMs;
    const note =
      settled === 'not started'
        ? 'before its handler started'
        : settled === 'late'
          ? `its handler did not settle within ${graceMs} ms and may still be running`
          : settled === 'forced'
            ? `the caller stopped waiting for its handler after ${waitedMs} ms (a second interrupt); it may still be running`
            : 'its handler stopped';
    const result = typeof settled === 'object' ? settled.result : undefined;
    const handlerSettled = settled !== 'late' && settled !== 'forced';
    if (!handlerSettled) run.logger.warn(note);
    const handlerMetadata =
      result && typeof result === 'object' && result.metadata ? { handlerMetadata: result.metadata } : {};
    if (timedOut) {
      return {
        status: 'TIMED_OUT',
        status_code: errorPolicy(reason).status,
        body: `${why}; ${note}.`,
        error: { name: 'HandlerTimeoutError', message: why },
        handler_settled: handlerSettled,
        ...handlerMetadata,
      };
    }
    const cancelled = isNamed(reason, 'RunCancelledError')
      ? (reason as RunCancelledError)
      : new RunCancelledError('the caller aborted', { cause: reason });
    return {
      status: 'CANCELLED',
      status_code: CANCELLED_STATUS_CODE,
      body: `Run cancelled (${cancelled.reason}); ${note}.`,
      error: { name: 'RunCancelledError', message: cancelled.message },
      handler_settled: handlerSettled,
      ...handlerMetadata,
    };
  }

  private redact<T>(value: T): T {
    return this.deps.redactor ? this.deps.redactor.redact(value) : value;
  }

  private redactString(text: string): string {
    return this.deps.redactor ? this.deps.redactor.redactString(text) : text;
  }

  /** Turn store errors that escape retries into MetadataWriteError (exit code 4 / 503). */
  private storeCall<T>(service: string, call: () => Promise<T>): Promise<T> {
    const fail = (error: unknown): never => {
      if (
        error instanceof Error &&
        ['RunConflictError', 'IdempotencyKeyMismatchError', 'MetadataWriteError'].includes(error.name)
      )
        throw error;
      throw new MetadataWriteError(service, error, 'The handler was not run.');
    };
    try {
      return call().catch(fail);
    } catch (error) {
      return fail(error);
    }
  }

  /**
   * Tracking (and the caller's hooks) never fail a run: log the error and go on. Returns a
   * promise only when `fn` did (a tracker that does nothing costs no await).
   */
  private safely(logger: Logger, fn: () => unknown, what = 'tracking failed'): Promise<void> | undefined {
    const failed = (error: unknown) => {
      logger.warn(`${what}: ${describe(error)}`);
    };
    try {
      const result = fn() as PromiseLike<unknown> | undefined;
      if (typeof result?.then === 'function') return Promise.resolve(result).then(() => {}, failed);
    } catch (error) {
      failed(error);
    }
    return undefined;
  }
}

/** Wait for `work` at most `graceMs` (or until `force` aborts): its result, 'failed', 'late' or 'forced'. */
async function settleWithin(
  work: Promise<HandlerResult>,
  graceMs: number,
  clock: Clock,
  force: AbortSignal | undefined,
): Promise<{ result: HandlerResult } | 'failed' | 'late' | 'forced'> {
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  let onForce: (() => void) | undefined;
  const late = new Promise<'late' | 'forced'>((resolve) => {
    timer = clock.setTimeout(() => resolve('late'), graceMs);
    if (force?.aborted) resolve('forced');
    onForce = () => resolve('forced');
    force?.addEventListener('abort', onForce, { once: true });
  });
  try {
    return await Promise.race([
      work.then(
        (result) => ({ result }),
        () => 'failed' as const,
      ),
      late,
    ]);
  } finally {
    clock.clearTimeout(timer);
    if (onForce) force?.removeEventListener('abort', onForce);
  }
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** A FAILED outcome for any thrown value: its status and retryability from core's error table. */
function failure(error: unknown, prefix: string): Outcome {
  const thrown = outcomeOfThrown(error);
  return {
    status: 'FAILED',
    status_code: thrown.status_code,
    body: `${prefix}: ${thrown.message}`,
    error: {
      name: thrown.name,
      message: thrown.message,
      // a handler marks a failure worth retrying by throwing an error with `retryable: true`
      ...(thrown.retryable ? { retryable: true } : {}),
    },
  };
}

function checkResult(result: unknown): Outcome {
  const problem = describeBadHandlerResult(result);
  if (problem) {
    return {
      status: 'FAILED',
      status_code: 500,
      body: `Handler failed: ${problem}`,
      error: { name: 'InvalidHandlerResult', message: problem },
    };
  }
  const r = result as HandlerResult;
  const metadata = r.metadata && typeof r.metadata === 'object' && !Array.isArray(r.metadata) ? r.metadata : undefined;
  const failed = r.statusCode >= 400;
  return {
    status: failed ? 'FAILED' : 'SUCCEEDED',
    status_code: r.statusCode,
    body: r.body,
    // a 429 or 503 result is worth retrying, as the same error thrown is
    ...(failed
      ? {
          error: {
            name: 'HandlerError',
            message: r.body,
            ...(isRetryableStatus(r.statusCode) ? { retryable: true } : {}),
          },
        }
      : {}),
    ...(metadata ? { handlerMetadata: metadata } : {}),
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
