import type { DependencyContainer } from 'tsyringe';
import {
  DEFAULT_METADATA_TABLE_NAME,
  HandlerTimeoutError,
  LOGGER,
  MetadataWriteError,
  RUN_CONTEXT,
  RunConflictError,
  UnknownServiceError,
  describe,
  newRunId,
  parseWith,
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
import { withRetries } from './retry';

/** Per-call options of an invocation. */
export interface InvokeOptions {
  /** Abort the handler after this many ms and record the run as TIMED_OUT (504). */
  timeoutMs?: number;
  /**
   * A second call with the same key whose run SUCCEEDED returns that record without running;
   * one whose run is still RUNNING (and not stale) is refused with RunConflictError.
   * Defaults to `requestMetadata.request_id` when that is a string.
   */
  idempotencyKey?: string;
  /** Cancels the run (its handler sees the signal aborted). */
  signal?: AbortSignal;
  /** Called when the handler reports progress. */
  onProgress?: (done: number, total: number) => void;
  /** Called once the RUNNING record is written (a queue worker remembers which run an attempt owns). */
  onRunStarted?: (record: RunExecutionMetadata) => void | Promise<void>;
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
  /** A RUNNING record older than this is treated as crashed (ms); default 6 hours. */
  readonly staleAfterMs?: number;
  /** Default handler timeout (ms); none when unset. */
  readonly defaultTimeoutMs?: number;
}

const DEFAULT_STALE_AFTER_MS = 6 * 60 * 60 * 1000;

/**
 * Runs one validated request: previous run loaded, RUNNING record written first, handler run
 * in its own child container with timeout and abort, final record written (retried, else kept
 * in the outbox and MetadataWriteError raised), tracker told (never failing the run).
 */
export class Executor {
  constructor(private readonly deps: ExecutorDeps) {}

  async execute(request: IntegrationRequest, options: InvokeOptions = {}): Promise<RunExecutionMetadata> {
    const { registry, store, clock } = this.deps;
    if (!registry.has(request.service)) throw new UnknownServiceError(request.service, registry.listServices());
    const resolvedPayloadSchema = registry.payloadSchemaOf(request.service);
    const payload = resolvedPayloadSchema
      ? (parseWith(resolvedPayloadSchema, request.payload, `Invalid payload for "${request.service}"`) as Record<
          string,
          unknown
        >)
      : request.payload;

    const retryDelays = this.deps.storeRetryDelaysMs ?? [1000, 2000];
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
      ...(typeof payload.run_type === 'string' ? { run_type: payload.run_type } : {}),
      started_at: started,
      handler_package: source.package,
      handler_version: source.version,
      request_metadata: this.redact(request.metadata),
      ...(idempotencyKey ? { idempotency_key: idempotencyKey } : {}),
    };

    const existing = await this.begin(running, retryDelays);
    if (existing) return existing;

    const logger = this.deps.logger.child({ run_id: running.run_id, service: running.service });
    // The RUNNING record exists now: nothing may escape before the final record is written.
    await this.safely(logger, () => options.onRunStarted?.(running), 'the onRunStarted hook failed');
    const { tracker } = this.deps;
    const metrics = new RunMetrics(
      tracker && ((m, step) => this.safely(logger, () => tracker.log(running.run_id, m, step))),
    );
    if (tracker) await this.safely(logger, () => tracker.start({ record: running, payload }));
    logger.info('run started', {
      handler: `${source.package}@${source.version}`,
      previous_run_id: previousRun?.run_id,
    });

    const { handlerMetadata, ...outcome } = await this.runHandler(request, payload, running, {
      logger,
      metrics,
      previousRun,
      options,
    });
    const endedMs = clock.now();
    const summary = metrics.summary();
    const final: RunExecutionMetadata = this.redact({
      ...running,
      ...outcome,
      metadata: JSON.stringify({
        ...this.redact(handlerMetadata ?? {}),
        ...(Object.keys(summary).length ? { metrics: summary } : {}),
      }),
      ended_at: new Date(endedMs).toISOString(),
      duration_ms: Math.max(0, endedMs - startedMs),
    });
    logger.info('run finished', {
      status: final.status,
      status_code: final.status_code,
      duration_ms: final.duration_ms,
    });

    let writeError: unknown;
    try {
      await withRetries(() => store.finish(final), retryDelays);
    } catch (error) {
      writeError = error;
    }
    if (tracker) await this.safely(logger, () => tracker.finish(final));
    if (writeError !== undefined) throw this.keep(final, writeError, logger);
    return final;
  }

  /**
   * The final record could not be written: keep it in the outbox; if even that fails (the same
   * full disk, say), log the whole record as a last resort so it can be recovered from the logs.
   */
  private keep(final: RunExecutionMetadata, writeError: unknown, logger: Logger): MetadataWriteError {
    const { outbox } = this.deps;
    if (outbox) {
      try {
        outbox.append(final);
        return new MetadataWriteError(
          final.service,
          writeError,
          `The record of run ${final.run_id} was kept in ${outbox.file}; it is written on the next invocation or by \`pipeline outbox --flush\`.`,
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
        );
      }
    }
    logger.error('run record could not be stored: here it is in full', { record: final });
    return new MetadataWriteError(final.service, writeError, `The full record of run ${final.run_id} was logged.`);
  }

  /** Write the RUNNING record; returns the stored run when idempotency says not to run. */
  private async begin(
    record: RunExecutionMetadata,
    retryDelays: readonly number[],
  ): Promise<RunExecutionMetadata | undefined> {
    const { store, clock } = this.deps;
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await this.storeCall(record.service, () => withRetries(() => store.begin(record), retryDelays));
      if (result.ok) return undefined;
      const { existing } = result;
      if (existing.status === 'SUCCEEDED') return existing;
      const ageMs = clock.now() - Date.parse(existing.started_at);
      if (ageMs < (this.deps.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)) {
        throw new RunConflictError(record.idempotency_key ?? '', existing.run_id);
      }
      // The holder of the key was RUNNING for longer than any run should: it crashed.
      await this.storeCall(record.service, () =>
        store.finish({
          ...existing,
          status: 'CRASHED',
          status_code: 500,
          body: 'The run stopped without finishing (its process died); marked CRASHED by a later run.',
          error: { name: 'RunCrashed', message: `no final record after ${Math.round(ageMs / 1000)} s` },
        }),
      );
    }
    throw new RunConflictError(record.idempotency_key ?? '', record.run_id);
  }

  private async runHandler(
    request: IntegrationRequest,
    payload: Record<string, unknown>,
    running: RunExecutionMetadata,
    run: { logger: Logger; metrics: RunMetrics; previousRun: RunExecutionMetadata | undefined; options: InvokeOptions },
  ): Promise<
    Pick<RunExecutionMetadata, 'status' | 'status_code' | 'body' | 'error'> & {
      handlerMetadata?: Record<string, unknown>;
    }
  > {
    const timeoutMs = run.options.timeoutMs ?? this.deps.defaultTimeoutMs;
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort(run.options.signal?.reason);
    run.options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const context: RunContext = Object.freeze({
      runId: running.run_id,
      service: running.service,
      runType: running.run_type,
      requestMetadata: request.metadata,
      previousRun: run.previousRun,
      signal: controller.signal,
      logger: run.logger,
      metrics: run.metrics,
      progress: (done: number, total: number) => run.options.onProgress?.(done, total),
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const child = this.deps.container.createChildContainer();
      child.register(RUN_CONTEXT, { useValue: context });
      child.register(LOGGER, { useValue: run.logger });
      const { handler } = await this.deps.registry.getHandler(request.service, child);
      const timedOut = new Promise<never>((_, reject) => {
        if (timeoutMs === undefined) return;
        timer = setTimeout(() => {
          const error = new HandlerTimeoutError(request.service, timeoutMs);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      });
      const result = await Promise.race([
        Promise.resolve().then(() => handler.handle(payload, context)),
        timedOut,
        aborted,
      ]);
      return checkResult(result);
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'HandlerTimeoutError';
      const named = error instanceof Error ? error : new Error(describe(error));
      run.logger.error(timedOut ? 'handler timed out' : 'handler failed', {
        error: { name: named.name, message: named.message },
      });
      return {
        status: timedOut ? 'TIMED_OUT' : 'FAILED',
        status_code: timedOut ? 504 : 500,
        body: timedOut ? named.message : `Handler failed: ${named.message}`,
        error: {
          name: error instanceof Error ? named.name : 'NonErrorThrown',
          message: named.message,
          // A handler marks a failure worth retrying by throwing an error with `retryable: true`.
          ...((error as { retryable?: unknown } | null)?.retryable === true ? { retryable: true } : {}),
        },
      };
    } finally {
      clearTimeout(timer);
      run.options.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private redact<T>(value: T): T {
    return this.deps.redactor ? this.deps.redactor.redact(value) : value;
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

function checkResult(result: unknown): Pick<RunExecutionMetadata, 'status' | 'status_code' | 'body' | 'error'> & {
  handlerMetadata?: Record<string, unknown>;
} {
  const r = result as Partial<HandlerResult> | undefined;
  if (!r || typeof r !== 'object' || !Number.isInteger(r.statusCode) || typeof r.body !== 'string') {
    const message = `the handler returned ${r === undefined ? 'nothing' : JSON.stringify(r)?.slice(0, 200)}, not { statusCode: integer, body: string, metadata?: object }`;
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
