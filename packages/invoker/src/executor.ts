import type { DependencyContainer } from 'tsyringe';
import {
  AbortError,
  CANCELLED_STATUS_CODE,
  DEFAULT_METADATA_TABLE_NAME,
  HandlerTimeoutError,
  IdempotencyKeyMismatchError,
  LOGGER,
  MetadataWriteError,
  RUN_CONTEXT,
  RunCancelledError,
  RunConflictError,
  UnknownServiceError,
  describe,
  errorPolicy,
  newRunId,
  parseWith,
  payloadHash,
  toJsonValue,
  type Clock,
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
import { Heartbeat } from './heartbeat';
import {
  endRun,
  fail,
  inSpan,
  recordRunMetrics,
  runSpan,
  traceIdOf,
  type Context,
  type Span,
  type SpanKind,
} from './telemetry';
import { withRetries } from './retry';

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
  /** `undefined`: no tracking calls at all. */
  readonly tracker: Tracker | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly outbox: Outbox | undefined;
  /** Removes secrets from records before they are stored. */
  readonly redactor?: Redactor;
  /** Table name stored in each record's `metadata_table_name`. */
  readonly tableName?: string;
  /** Delays between attempts of a store write (ms); default [1000, 2000] as the original. */
  readonly storeRetryDelaysMs?: readonly number[];
  /** How often a RUNNING record's heartbeat is renewed (ms); default 10 000. */
  readonly heartbeatMs?: number;
  /** A RUNNING record whose heartbeat is older than this is stale: its process died (ms); default 60 000. */
  readonly staleAfterMs?: number;
  /** Default grace for a cancelled handler to settle (ms); default 10 000. */
  readonly cancelGraceMs?: number;
  /** Default handler timeout (ms); none when unset. */
  readonly defaultTimeoutMs?: number;
  /** `false`: no spans or metrics from this executor (default: through the OpenTelemetry API). */
  readonly telemetry?: boolean;
}

/** Delays between attempts of a store write (ms), as the original library: 1 s, then 2 s. */
export const DEFAULT_STORE_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1000, 2000]);

/** Defaults of the run lifecycle (ms). */
export const LIFECYCLE_DEFAULTS = Object.freeze({ heartbeatMs: 10_000, staleAfterMs: 60_000, cancelGraceMs: 10_000 });

type Outcome = Pick<RunExecutionMetadata, 'status' | 'status_code' | 'body' | 'error'> & {
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

  /**
   * Run `request` inside its span, `pipeline.invoke <service>` (a no-op without an OpenTelemetry
   * SDK): child spans for the store writes and the handler, the run's attributes and status, and
   * the `pipeline.runs` / `pipeline.run.duration` metrics.
   */
  private get off(): boolean {
    return this.deps.telemetry === false;
  }

  async execute(request: IntegrationRequest, options: InvokeOptions = {}): Promise<RunExecutionMetadata> {
    return inSpan(...runSpan(request.service, options, this.off), (span) => this.executeIn(span, request, options));
  }

  /** {@link execute} inside a run span the caller started (the invoker, to put the plugin load in it). */
  async executeIn(span: Span, request: IntegrationRequest, options: InvokeOptions): Promise<RunExecutionMetadata> {
    const record = await this.run(request, options, span);
    endRun(span, record);
    if (!record.replayed && !this.off) recordRunMetrics(record);
    return record;
  }

  private async run(request: IntegrationRequest, options: InvokeOptions, span: Span): Promise<RunExecutionMetadata> {
    const { registry, store, clock } = this.deps;
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

    const retryDelays = this.deps.storeRetryDelaysMs ?? DEFAULT_STORE_RETRY_DELAYS_MS;
    const previousRun = await this.storeCall(request.service, () =>
      withRetries(() => store.latest(request.service), retryDelays),
    );
    const source = registry.sourceOf(request.service)!;
    const startedMs = clock.now();
    const started = new Date(startedMs).toISOString();
    const idempotencyKey = options.idempotencyKey ?? stringOrUndefined(request.metadata.request_id);
    const running: RunExecutionMetadata = {
      service: request.service,
      timestamp: started,
      status_code: 0,
      body: '',
      metadata_table_name: this.deps.tableName ?? DEFAULT_METADATA_TABLE_NAME,
      metadata: '{}',
      run_id: newRunId(startedMs),
      status: 'RUNNING',
      ...(typeof payload.run_type === 'string' ? { run_type: this.redactString(payload.run_type) } : {}),
      started_at: started,
      heartbeat_at: started,
      handler_package: source.package,
      handler_version: source.version,
      request_metadata: this.redact(request.metadata),
      ...(idempotencyKey ? { idempotency_key: idempotencyKey, payload_hash: payloadHash(payload) } : {}),
      ...(options.scheduleId ? { schedule_id: options.scheduleId } : {}),
      ...(options.jobId ? { job_id: options.jobId } : {}),
    };
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
    const existing = await inSpan('pipeline.store.begin', { off: childSpansOff }, () =>
      this.begin(running, retryDelays),
    );
    if (existing) return existing;

    // The RUNNING record exists now: from here every path ends in one terminal record.
    const logger = this.deps.logger.child({ run_id: running.run_id, service: running.service });
    const controller = new RunAbort();
    const onCallerAbort = () => controller.abort(asCancellation(signal!.reason));
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (signal?.aborted) onCallerAbort(); // aborted while the RUNNING record was being written
    const heartbeat = new Heartbeat(
      store,
      running,
      this.deps.heartbeatMs ?? LIFECYCLE_DEFAULTS.heartbeatMs,
      clock,
      logger,
      (reason) => controller.abort(reason),
    );
    heartbeat.start();
    const { tracker } = this.deps;
    const metrics = new RunMetrics(
      tracker && ((m, step) => this.safely(logger, () => tracker.log(running.run_id, m, step))),
    );
    let final: RunExecutionMetadata;
    try {
      await this.safely(logger, () => options.onRunStarted?.(running), 'the onRunStarted hook failed');
      if (tracker) await this.safely(logger, () => tracker.start({ record: running, payload }));
      logger.info('run started', {
        handler: `${source.package}@${source.version}`,
        previous_run_id: previousRun?.run_id,
      });
      const outcome = await this.runHandler(request, payload, running, controller, {
        logger,
        metrics,
        previousRun,
        options,
        childSpansOff,
      });
      final = this.finalRecord(running, outcome, metrics, startedMs);
    } catch (error) {
      // Nothing above should throw; if something does, the run still ends in a record.
      logger.error('the run failed outside its handler', { error: describe(error) });
      final = this.finalRecord(running, failure(error, 'Run failed'), metrics, startedMs);
    } finally {
      heartbeat.stop();
      signal?.removeEventListener('abort', onCallerAbort);
    }
    logger.info('run finished', {
      status: final.status,
      status_code: final.status_code,
      duration_ms: final.duration_ms,
    });
    return this.settle(final, retryDelays, logger, childSpansOff);
  }

  /** Write the terminal record and tell the tracker; returns the record the store holds. */
  private async settle(
    final: RunExecutionMetadata,
    retryDelays: readonly number[],
    logger: Logger,
    childSpansOff: boolean,
  ): Promise<RunExecutionMetadata> {
    let writeError: unknown;
    let stored = final;
    try {
      const result = await inSpan('pipeline.store.finish', { off: childSpansOff }, () =>
        withRetries(() => this.deps.store.finish(final), retryDelays),
      );
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
    const { tracker } = this.deps;
    if (tracker) await this.safely(logger, () => tracker.finish(stored));
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
      const json = handlerMetadata === undefined ? {} : toJsonValue(handlerMetadata);
      metadata = JSON.stringify({ ...(this.redact(json) as object), ...metricsPart });
    } catch (error) {
      ended = failure(error, 'Handler failed');
      metadata = JSON.stringify(metricsPart);
    }
    // what the handler said is redacted here; the rest was redacted when the RUNNING record was made
    const { heartbeat_at: _beat, ...rest } = running;
    return {
      ...rest,
      ...this.redact(ended),
      metadata,
      ended_at: new Date(endedMs).toISOString(),
      duration_ms: Math.max(0, endedMs - startedMs),
    };
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
   * Write the RUNNING record; returns the stored run when idempotency says not to run (a
   * SUCCEEDED run with the same payload, marked `replayed`).
   */
  private async begin(
    record: RunExecutionMetadata,
    retryDelays: readonly number[],
  ): Promise<RunExecutionMetadata | undefined> {
    const { store, clock } = this.deps;
    const key = record.idempotency_key ?? '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await this.storeCall(record.service, () => withRetries(() => store.begin(record), retryDelays));
      if (result.ok) return undefined;
      const { existing } = result;
      const nowMs = clock.now();
      const ageMs = nowMs - Date.parse(existing.heartbeat_at ?? existing.started_at);
      const stale =
        existing.status === 'RUNNING' && ageMs >= (this.deps.staleAfterMs ?? LIFECYCLE_DEFAULTS.staleAfterMs);
      // A dead holder frees its key whatever its payload was; a live or successful one keeps it.
      if (!stale) {
        if (existing.payload_hash && record.payload_hash && existing.payload_hash !== record.payload_hash) {
          throw new IdempotencyKeyMismatchError(key, existing.run_id, record.run_id);
        }
        if (existing.status === 'SUCCEEDED') return { ...existing, replayed: true };
        throw new RunConflictError(key, existing.run_id, ageMs);
      }
      // The key's holder stopped renewing its heartbeat: its process died. Say so in its record
      // (conditional: if it ended meanwhile, its own record stands) and try again.
      await this.storeCall(record.service, () =>
        withRetries(
          () =>
            store.finish({
              ...existing,
              status: 'CRASHED',
              status_code: 500,
              body: 'The run stopped without finishing (its process died); marked CRASHED by a later run.',
              error: { name: 'RunCrashed', message: `no heartbeat for ${Math.round(ageMs / 1000)} s` },
              ended_at: new Date(nowMs).toISOString(),
              duration_ms: Math.max(0, nowMs - Date.parse(existing.started_at)),
            }),
          retryDelays,
        ),
      );
    }
    throw new RunConflictError(key, record.run_id);
  }

  /** Construct and run the handler under the timeout and cancellation; never throws. */
  private async runHandler(
    request: IntegrationRequest,
    payload: Record<string, unknown>,
    running: RunExecutionMetadata,
    controller: RunAbort,
    run: {
      logger: Logger;
      metrics: RunMetrics;
      previousRun: RunExecutionMetadata | undefined;
      options: InvokeOptions;
      childSpansOff: boolean;
    },
  ): Promise<Outcome> {
    const timeoutMs = run.options.timeoutMs ?? this.deps.defaultTimeoutMs;
    const context: RunContext = Object.freeze({
      runId: running.run_id,
      service: running.service,
      runType: running.run_type,
      requestMetadata: request.metadata,
      previousRun: run.previousRun,
      get signal() {
        return controller.signal; // made when first read
      },
      logger: run.logger,
      metrics: run.metrics,
      progress: (done: number, total: number) => run.options.onProgress?.(done, total),
    });
    let timer: NodeJS.Timeout | undefined;
    let work: Promise<HandlerResult> | undefined;
    try {
      const stopped = new Promise<never>((_, reject) => {
        controller.onAbort(reject);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => controller.abort(new HandlerTimeoutError(request.service, timeoutMs)), timeoutMs);
        }
      });
      stopped.catch(() => {}); // settled through the race below
      if (controller.aborted) throw controller.reason;
      // Construction (a lazy factory, the plugin's collaborators) counts inside the timeout. The
      // handler runs in its span's context: spans it (or a library it calls) starts are children.
      work = inSpan(`pipeline.handler ${request.service}`, { off: run.childSpansOff }, async (span) => {
        const child = this.deps.container.createChildContainer();
        child.register(RUN_CONTEXT, { useValue: context });
        child.register(LOGGER, { useValue: run.logger });
        const { handler } = await this.deps.registry.getHandler(request.service, child);
        const result = await handler.handle(payload, context);
        if (result && typeof result.statusCode === 'number' && result.statusCode >= 400)
          fail(span, new Error(`status ${result.statusCode}: ${String(result.body).slice(0, 200)}`));
        return result;
      });
      work.catch(() => {}); // a handler that fails after being abandoned is not an unhandled rejection
      return checkResult(await Promise.race([work, stopped]));
    } catch (error) {
      if (isNamed(error, 'RunCancelledError')) return this.cancelled(error as RunCancelledError, work, run);
      const timedOut = isNamed(error, 'HandlerTimeoutError');
      run.logger.error(timedOut ? 'handler timed out' : 'handler failed', { error: describe(error) });
      if (timedOut) {
        const message = (error as Error).message;
        return {
          status: 'TIMED_OUT',
          status_code: errorPolicy(error).status,
          body: message,
          error: { name: 'HandlerTimeoutError', message },
        };
      }
      return failure(error, 'Handler failed');
    } finally {
      clearTimeout(timer);
    }
  }

  /** A cancelled run: give the handler its grace to settle (keeping what it reports), then CANCELLED. */
  private async cancelled(
    reason: RunCancelledError,
    work: Promise<HandlerResult> | undefined,
    run: { logger: Logger; options: InvokeOptions },
  ): Promise<Outcome> {
    run.logger.warn(`cancelling the run: ${reason.reason}`);
    const graceMs = run.options.cancelGraceMs ?? this.deps.cancelGraceMs ?? LIFECYCLE_DEFAULTS.cancelGraceMs;
    const settled = work ? await settleWithin(work, graceMs, run.options.forceSignal) : 'not started';
    const note =
      settled === 'not started'
        ? 'before its handler started'
        : settled === 'late'
          ? `its handler did not settle within ${graceMs} ms`
          : 'its handler stopped';
    const result = typeof settled === 'object' ? settled.result : undefined;
    return {
      status: 'CANCELLED',
      status_code: CANCELLED_STATUS_CODE,
      body: `Run cancelled (${reason.reason}); ${note}.`,
      error: { name: 'RunCancelledError', message: reason.message },
      ...(result && typeof result === 'object' && result.metadata ? { handlerMetadata: result.metadata } : {}),
    };
  }

  private redact<T>(value: T): T {
    return this.deps.redactor ? this.deps.redactor.redact(value) : value;
  }

  private redactString(text: string): string {
    return this.deps.redactor ? this.deps.redactor.redactString(text) : text;
  }

  /** Turn store errors that escape retries into MetadataWriteError (exit code 4 / 503). */
  private async storeCall<T>(service: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Error && (error.name === 'RunConflictError' || error.name === 'MetadataWriteError'))
        throw error;
      throw new MetadataWriteError(service, error, 'The handler was not run.');
    }
  }

  /** Tracking (and the caller's hooks) never fail a run: log the error and go on. */
  private async safely(logger: Logger, fn: () => unknown, what = 'tracking failed'): Promise<void> {
    try {
      await fn();
    } catch (error) {
      logger.warn(`${what}: ${describe(error)}`);
    }
  }
}

/**
 * A run's abort: like an AbortController, but the controller (an EventTarget, several
 * microseconds to make) is only made when the handler reads `context.signal`; most never do.
 */
class RunAbort {
  private controller: AbortController | undefined;
  private listeners: ((reason: unknown) => void)[] = [];
  aborted = false;
  reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Abort with `reason` (the first abort wins, as with an AbortController). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    for (const listener of this.listeners.splice(0)) listener(reason);
  }

  /** Call `listener` with the reason once aborted (at once if it already is). */
  onAbort(listener: (reason: unknown) => void): void {
    if (this.aborted) listener(this.reason);
    else this.listeners.push(listener);
  }
}

/** Wait for `work` at most `graceMs` (or until `force` aborts): its result, 'failed' or 'late'. */
async function settleWithin(
  work: Promise<HandlerResult>,
  graceMs: number,
  force: AbortSignal | undefined,
): Promise<{ result: HandlerResult } | 'failed' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  let onForce: (() => void) | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
    if (force?.aborted) resolve('late');
    onForce = () => resolve('late');
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
    clearTimeout(timer);
    if (onForce) force?.removeEventListener('abort', onForce);
  }
}

/** The caller's abort reason as a cancellation (kept when it already is one, e.g. "SIGINT"). */
function asCancellation(reason: unknown): RunCancelledError {
  if (isNamed(reason, 'RunCancelledError')) return reason as RunCancelledError;
  return new RunCancelledError('the caller aborted', { cause: reason });
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** A FAILED outcome for any thrown value. */
function failure(error: unknown, prefix: string): Outcome {
  const named = error instanceof Error ? error : new Error(describe(error));
  return {
    status: 'FAILED',
    status_code: 500,
    body: `${prefix}: ${named.message}`,
    error: {
      name: error instanceof Error ? named.name : 'NonErrorThrown',
      message: named.message,
      // A handler marks a failure worth retrying by throwing an error with `retryable: true`.
      ...((error as { retryable?: unknown } | null)?.retryable === true ? { retryable: true } : {}),
    },
  };
}

function checkResult(result: unknown): Outcome {
  const r = result as Partial<HandlerResult> | undefined;
  if (!r || typeof r !== 'object' || !Number.isInteger(r.statusCode) || typeof r.body !== 'string') {
    let shown: string;
    try {
      shown = r === undefined ? 'nothing' : String(JSON.stringify(r)).slice(0, 200);
    } catch {
      shown = 'a value JSON cannot show';
    }
    const message = `the handler returned ${shown}, not { statusCode: integer, body: string, metadata?: object }`;
    return {
      status: 'FAILED',
      status_code: 500,
      body: `Handler failed: ${message}`,
      error: { name: 'InvalidHandlerResult', message },
    };
  }
  const metadata = r.metadata && typeof r.metadata === 'object' && !Array.isArray(r.metadata) ? r.metadata : undefined;
  const failed = r.statusCode! >= 400;
  return {
    status: failed ? 'FAILED' : 'SUCCEEDED',
    status_code: r.statusCode!,
    body: r.body,
    ...(failed ? { error: { name: 'HandlerError', message: r.body } } : {}),
    ...(metadata ? { handlerMetadata: metadata } : {}),
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
