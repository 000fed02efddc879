import type { z } from 'zod';
import type { RunExecutionMetadata } from './models/run-record';

/**
 * @packageDocumentation
 * Every error of pipeline-invocation and the one table that answers them. Also importable alone
 * as `@pipeline-invocation/core/errors` (no runtime dependencies), for entry points that must
 * start fast.
 */

/**
 * Base class of every error this project raises. Across packages identify errors by
 * {@link PipelineInvocationError.name} (or {@link isPipelineError}), never `instanceof`:
 * two copies of core may be installed side by side.
 */
export class PipelineInvocationError extends Error {
  /** The error's code: one of {@link ERROR_CODES}, the key of its row in {@link ERROR_TABLE}. */
  override name: ErrorCode = 'PipelineInvocationError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The request (or a handler payload) failed validation. Maps to status 400. */
export class InvalidRequestError extends PipelineInvocationError {
  override name = 'InvalidRequestError' as const;
  /** The validation issues, as data (zod's issue objects: `path`, `code`, `message`). */
  readonly issues: readonly z.core.$ZodIssue[];
  constructor(message: string, issues: readonly z.core.$ZodIssue[] = [], options?: ErrorOptions) {
    super(message, options);
    this.issues = issues;
  }
}

/** No registered handler answers to `serviceName`. Maps to status 404. */
export class UnknownServiceError extends PipelineInvocationError {
  override name = 'UnknownServiceError' as const;
  constructor(
    readonly serviceName: string,
    readonly availableServices: readonly string[],
    options?: ErrorOptions & {
      /** Why declared plugins could not be used (e.g. "x: declared in package.json but not installed"). */
      problems?: readonly string[];
    },
  ) {
    const list = availableServices.length > 0 ? availableServices.join(', ') : '(none registered)';
    const problems = options?.problems?.length
      ? ` Declared packages that could not be used: ${options.problems.join('; ')}.`
      : '';
    super(
      `Unknown service "${serviceName}". Registered services: ${list}.${problems} ` +
        'Install the handler plugin that provides it and add it to your package.json dependencies.',
      options,
    );
  }
}

/** Two registrants claimed the same service name. Maps to status 409. */
export class DuplicateServiceError extends PipelineInvocationError {
  override name = 'DuplicateServiceError' as const;
  constructor(
    readonly serviceName: string,
    readonly existingSource: string,
    readonly newSource: string,
    options?: ErrorOptions,
  ) {
    super(
      `Service "${serviceName}" is registered twice: by ${existingSource} and by ${newSource}. ` +
        'Remove one of them (or pass { override: true } in a test that replaces it on purpose).',
      options,
    );
  }
}

/**
 * A run with the same idempotency key is still running (its heartbeat is fresh). Maps to
 * status 409. A run whose heartbeat went stale does not conflict: it is marked CRASHED.
 */
export class RunConflictError extends PipelineInvocationError {
  override name = 'RunConflictError' as const;
  constructor(
    readonly idempotencyKey: string,
    readonly runId: string,
    /** How long ago the running run's heartbeat was renewed, when known. */
    readonly heartbeatAgeMs?: number,
    /** `service`: the service the key belongs to (keys are scoped by service), named in the message. */
    options?: ErrorOptions & { readonly service?: string },
  ) {
    super(
      `A run ${options?.service ? `of "${options.service}" ` : ''}with idempotency key "${idempotencyKey}" is still RUNNING (run ${runId}` +
        `${heartbeatAgeMs === undefined ? '' : `, heartbeat ${Math.round(heartbeatAgeMs / 1000)} s ago`}). ` +
        'Wait for it to finish, cancel it with `pipeline cancel ' +
        runId +
        '`, or use another key.',
      options,
    );
  }
}

/**
 * The same idempotency key was used with another payload. Maps to status 409. A key names one
 * request: reusing it for different input is a caller bug, never a replay.
 */
export class IdempotencyKeyMismatchError extends PipelineInvocationError {
  override name = 'IdempotencyKeyMismatchError' as const;
  constructor(
    readonly idempotencyKey: string,
    /** The run that holds the key. */
    readonly existingRunId: string,
    /** The run refused (it was never started). */
    readonly runId: string,
    options?: ErrorOptions,
  ) {
    super(
      `Idempotency key "${idempotencyKey}" belongs to run ${existingRunId}, which had another payload; ` +
        `run ${runId} was refused. Use a new key for a different payload.`,
      options,
    );
  }
}

/**
 * The run was cancelled (a signal, the caller's AbortSignal, or \`pipeline cancel\`). It is the
 * abort reason the handler's signal carries, and the error of a CANCELLED record (status 499).
 */
export class RunCancelledError extends PipelineInvocationError {
  override name = 'RunCancelledError' as const;
  constructor(
    /** Why: "SIGINT", "SIGTERM", "cancel requested", "caller aborted". */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`The run was cancelled (${reason}).`, options);
  }
}

/**
 * The caller's AbortSignal was already aborted before the run started: nothing ran and no
 * record was written. Named like the DOM's AbortError so \`error.name === 'AbortError'\` checks work.
 */
export class AbortError extends PipelineInvocationError {
  override name = 'AbortError' as const;
  constructor(
    readonly service: string,
    options?: ErrorOptions,
  ) {
    super(`The invocation of "${service}" was aborted before it started; nothing ran.`, options);
  }
}

/** A value in a handler's metadata cannot be stored as JSON (the run fails, naming it). Status 500. */
export class UnserializableMetadataError extends PipelineInvocationError {
  override name = 'UnserializableMetadataError' as const;
  constructor(
    /** Where the value sits, e.g. \`metadata.counts\`. */
    readonly path: string,
    /** What it is, e.g. "a BigInt", "a Map". */
    readonly what: string,
    options?: ErrorOptions,
  ) {
    super(
      `The handler's metadata holds ${what} at ${path}, which JSON cannot hold. ` +
        'Convert it first (a BigInt to a string or number, a Map with Object.fromEntries, a Set with Array.from).',
      options,
    );
  }
}

/** A configuration value (an environment variable or option) is invalid. Exit code 2. */
export class ConfigError extends PipelineInvocationError {
  override name = 'ConfigError' as const;
  constructor(
    /** The variable or option, e.g. \`PIPELINE_HEARTBEAT_MS\`. */
    readonly variable: string,
    readonly value: unknown,
    /** What is allowed. */
    readonly expected: string,
    options?: ErrorOptions,
  ) {
    super(`${variable}=${JSON.stringify(value)} is invalid: ${expected}.`, options);
  }
}

/**
 * A run record could not be written after retries. Maps to 503. When it is the final record of
 * a run whose handler already ran, {@link MetadataWriteError.record} holds it (kept in the outbox
 * or a file): a queue must not run that handler again.
 *
 * The message names the service once: wrapping a MetadataWriteError (a custom writer that throws
 * one, as the original's tests did) keeps the inner one's cause instead of repeating its text.
 */
export class MetadataWriteError extends PipelineInvocationError {
  override name = 'MetadataWriteError' as const;
  /** The final record that could not be stored; set only when the handler ran. */
  readonly record?: RunExecutionMetadata;
  /** What failed: the store's or the writer's own error (never another MetadataWriteError). */
  readonly originalError: unknown;
  constructor(
    readonly service: string,
    originalError: unknown,
    detail = '',
    options: ErrorOptions & { record?: RunExecutionMetadata } = {},
  ) {
    const inner = unwrapWriteError(originalError);
    const details = [...inner.details, detail].filter(Boolean).map(sentence);
    super(
      [`Could not write the run record of "${service}": ${sentence(describe(inner.error))}`, ...details].join(' '),
      {
        cause: options.cause ?? inner.error,
      },
    );
    this.originalError = inner.error;
    const record = options.record ?? inner.record;
    if (record) this.record = record;
  }
}

/** The innermost cause of nested MetadataWriteErrors (by name: another copy of core counts too). */
function unwrapWriteError(error: unknown): { error: unknown; details: string[]; record?: RunExecutionMetadata } {
  const details: string[] = [];
  let record: RunExecutionMetadata | undefined;
  let current = error;
  for (let depth = 0; depth < 10 && isNamedError(current, 'MetadataWriteError'); depth++) {
    const nested = current as Partial<MetadataWriteError> & Error;
    record ??= nested.record;
    // the nested one's own message minus its "Could not write..." lead and its cause's text
    const own = nested.message.replace(/^Could not write the run record of "[^"]*": /, '');
    const next = 'originalError' in nested ? nested.originalError : nested.cause;
    const rest = own.startsWith(sentence(describe(next))) ? own.slice(sentence(describe(next)).length).trim() : '';
    if (rest) details.unshift(rest);
    current = next;
  }
  return { error: current, details, record };
}

/** `text` ending with exactly one full stop (or its own `?`/`!`). */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function isNamedError(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === name;
}

/**
 * The run store cannot be used (unreachable, missing table, not a database, newer schema).
 * Maps to status 503. `fix` says what to do about it.
 */
export class RunStoreError extends PipelineInvocationError {
  override name = 'RunStoreError' as const;
  constructor(
    readonly store: string,
    message: string,
    readonly fix: string,
    options?: ErrorOptions,
  ) {
    super(`${store}: ${message}. ${fix}`, options);
  }
}

/** Tracking (W&B or metrics) failed. Logged, never fails a run. */
export class ObservabilityError extends PipelineInvocationError {
  override name = 'ObservabilityError' as const;
  constructor(
    readonly service: string,
    readonly component: 'wandb' | 'metrics',
    readonly originalError: unknown,
    options: ErrorOptions = { cause: originalError },
  ) {
    super(`${component} tracking failed for "${service}": ${describe(originalError)}`, options);
  }
}

/** A plugin package could not be imported. Maps to status 500. */
export class PluginLoadError extends PipelineInvocationError {
  override name = 'PluginLoadError' as const;
  constructor(
    readonly packageName: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`Could not load handler plugin "${packageName}": ${reason}`, options);
  }
}

/** A plugin supports a contract range that excludes ours. Maps to status 500. */
export class IncompatiblePluginError extends PipelineInvocationError {
  override name = 'IncompatiblePluginError' as const;
  constructor(
    readonly packageName: string,
    readonly pluginContract: string,
    readonly hostContract: string,
    options?: ErrorOptions,
  ) {
    super(
      `Handler plugin "${packageName}" supports contract ${pluginContract}, but this host ` +
        `implements contract ${hostContract}. Install a version of "${packageName}" built for contract ${hostContract}.`,
      options,
    );
  }
}

/** A handler did not finish within its time limit. Maps to status 504. */
export class HandlerTimeoutError extends PipelineInvocationError {
  override name = 'HandlerTimeoutError' as const;
  constructor(
    readonly service: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`Handler "${service}" did not finish within ${timeoutMs} ms and was aborted.`, options);
  }
}

/**
 * An upstream service the handler depends on refused for now (HTTP 429). Maps to status 429, and
 * a queue tries the job again later, as for a handler result with status 429 or 503.
 */
export class RateLimitedError extends PipelineInvocationError {
  override name = 'RateLimitedError' as const;
  constructor(
    /** Who refused, e.g. "Perspective API". */
    readonly upstream: string,
    /** How long the upstream asked to wait, when it said (ms). */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(
      `${upstream} is rate limiting the run${retryAfterMs === undefined ? '' : ` (retry after ${retryAfterMs} ms)`}; it is worth trying again later.`,
      options,
    );
  }
}

/**
 * The invoker was closed (`Invoker.close()`): it runs nothing more. Maps to status 503 (a queue
 * job is tried again, by a worker whose invoker is open). Create a new invoker instead.
 */
export class InvokerClosedError extends PipelineInvocationError {
  override name = 'InvokerClosedError' as const;
  constructor(
    /** What was asked of the closed invoker, e.g. `invokePipelineHandler("svc")`. */
    readonly call: string,
    options?: ErrorOptions,
  ) {
    super(
      `This invoker was closed, so ${call} was refused; nothing ran. Create a new invoker (createInvoker()) for further calls.`,
      options,
    );
  }
}

/** A queued invocation's job is not in Redis (never queued, or removed after its retention). Maps to 404. */
export class JobNotFoundError extends PipelineInvocationError {
  override name = 'JobNotFoundError' as const;
  constructor(
    /** The job handle, `<service>/<job id>`. */
    readonly handle: string,
    options?: ErrorOptions,
  ) {
    super(
      `No job ${handle} in Redis: it was never queued there, or it was removed (finished jobs are kept 7 days, failed ones 30).`,
      options,
    );
  }
}

/** A queued invocation ended without a run record (e.g. the store stayed down through every attempt). Maps to 500. */
export class JobFailedError extends PipelineInvocationError {
  override name = 'JobFailedError' as const;
  constructor(
    readonly handle: string,
    /** Why its last attempt failed, as the worker said. */
    readonly reason: string,
    /** Attempts made. */
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`Job ${handle} failed after ${attempts} attempt(s) without a run record: ${reason}`, options);
  }
}

/** Waiting for a queued invocation took longer than asked; the job may still run. Maps to 504. */
export class WaitTimeoutError extends PipelineInvocationError {
  override name = 'WaitTimeoutError' as const;
  constructor(
    readonly handle: string,
    readonly timeoutMs: number,
    /** The job's state when the wait ended (`waiting`, `active`, `delayed`...). */
    readonly state: string,
    options?: ErrorOptions,
  ) {
    super(
      `Job ${handle} did not finish within ${timeoutMs} ms (it is ${state}); wait again with waitForRun, or check that a worker runs (pipeline worker).`,
      options,
    );
  }
}

/**
 * Every error code of pipeline-invocation: the `name` of each error class above. The union is
 * closed: a class whose name is not listed does not compile (its `name` must be an
 * {@link ErrorCode}), and a code without a row in {@link ERROR_TABLE} does not either.
 */
export const ERROR_CODES = [
  'PipelineInvocationError',
  'InvalidRequestError',
  'ConfigError',
  'UnknownServiceError',
  'DuplicateServiceError',
  'RunConflictError',
  'IdempotencyKeyMismatchError',
  'RateLimitedError',
  'AbortError',
  'RunCancelledError',
  'PluginLoadError',
  'IncompatiblePluginError',
  'UnserializableMetadataError',
  'ObservabilityError',
  'MetadataWriteError',
  'RunStoreError',
  'InvokerClosedError',
  'HandlerTimeoutError',
  'JobNotFoundError',
  'JobFailedError',
  'WaitTimeoutError',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** How one error is answered, wherever it surfaces. */
export interface ErrorPolicy {
  /** HTTP-style status code (the router's `status_code`, a record's status code). */
  readonly status: number;
  /** Exit code of the `pipeline` CLI (documented in its `--help`). */
  readonly exitCode: number;
  /** Whether a queue should run the job again (with its backoff) after this error. */
  readonly retry: boolean;
}

/**
 * The one error table (tRPC-style): each error code to its status code, CLI exit code and
 * retry decision. The router, the executor, the CLI and the worker all read it; an error not
 * listed (a handler's own, a network failure) is a 500, exit code 1, and worth a retry.
 * Keyed by the closed {@link ErrorCode} union, so the compiler checks every code has its row.
 */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorPolicy>> = Object.freeze({
  /** The base class, thrown as such by nobody: answered like an unlisted error. */
  PipelineInvocationError: { status: 500, exitCode: 1, retry: true },
  InvalidRequestError: { status: 400, exitCode: 2, retry: false },
  ConfigError: { status: 400, exitCode: 2, retry: false },
  UnknownServiceError: { status: 404, exitCode: 3, retry: false },
  DuplicateServiceError: { status: 409, exitCode: 5, retry: false },
  /** The key's run may finish meanwhile: a queue tries again later. */
  RunConflictError: { status: 409, exitCode: 6, retry: true },
  IdempotencyKeyMismatchError: { status: 409, exitCode: 6, retry: false },
  RateLimitedError: { status: 429, exitCode: 1, retry: true },
  AbortError: { status: 499, exitCode: 1, retry: false },
  RunCancelledError: { status: 499, exitCode: 1, retry: false },
  /** A failed import is tried again after a back-off, so a fixed package heals a queued job. */
  PluginLoadError: { status: 500, exitCode: 5, retry: true },
  IncompatiblePluginError: { status: 500, exitCode: 5, retry: false },
  UnserializableMetadataError: { status: 500, exitCode: 1, retry: false },
  /** Logged, never fails a run; listed so that every class has its row. */
  ObservabilityError: { status: 500, exitCode: 1, retry: false },
  MetadataWriteError: { status: 503, exitCode: 4, retry: true },
  RunStoreError: { status: 503, exitCode: 4, retry: true },
  /** Another worker (whose invoker is open) may take the job. */
  InvokerClosedError: { status: 503, exitCode: 1, retry: true },
  HandlerTimeoutError: { status: 504, exitCode: 1, retry: false },
  JobNotFoundError: { status: 404, exitCode: 3, retry: false },
  /** The queue already made every attempt. */
  JobFailedError: { status: 500, exitCode: 1, retry: false },
  WaitTimeoutError: { status: 504, exitCode: 1, retry: false },
} satisfies Record<ErrorCode, ErrorPolicy>);

const UNLISTED: ErrorPolicy = Object.freeze({ status: 500, exitCode: 1, retry: true });

/** Whether `name` is one of {@link ERROR_CODES}. */
export function isErrorCode(name: unknown): name is ErrorCode {
  return typeof name === 'string' && Object.hasOwn(ERROR_TABLE, name);
}

/** The {@link ErrorPolicy} of any thrown value, by its name (works across copies of core). */
export function errorPolicy(error: unknown): ErrorPolicy {
  const name = (error as { name?: unknown } | null)?.name;
  return isErrorCode(name) ? ERROR_TABLE[name] : UNLISTED;
}

/**
 * Error code to status code: a view of {@link ERROR_TABLE}.
 *
 * @deprecated Use {@link errorPolicy} (or {@link statusCodeForError}); kept for callers of 0.1.
 */
export const ERROR_STATUS_CODES: Readonly<Record<ErrorCode, number>> = Object.freeze(
  Object.fromEntries(Object.entries(ERROR_TABLE).map(([name, policy]) => [name, policy.status])) as Record<
    ErrorCode,
    number
  >,
);

/** Status code from the error table. */
export function statusCodeForError(error: unknown): number {
  return errorPolicy(error).status;
}

/**
 * Whether a run that ended with `statusCode` is worth another attempt in a queue: a status the
 * error table retries for every error that has it (429 rate limited, 503 unavailable), so a
 * handler that *returns* `{ statusCode: 503 }` is retried like one that throws a 503 error.
 *
 * @example
 * isRetryableStatus(503); // true
 * isRetryableStatus(500); // false: a handler's failure is retried only when it says so
 */
export function isRetryableStatus(statusCode: number): boolean {
  return RETRYABLE_STATUSES.has(statusCode);
}

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set(
  Object.values(ERROR_TABLE)
    .map((p) => p.status)
    .filter((status) => Object.values(ERROR_TABLE).every((p) => p.status !== status || p.retry)),
);

/** How a run that ended with a thrown error is recorded: see {@link outcomeOfThrown}. */
export interface ThrownOutcome {
  /** The record's `status_code`. */
  readonly status_code: number;
  /** Whether a queue should try the run again (the record's `error.retryable`). */
  readonly retryable: boolean;
  /** The record's `error.name`: the error's own name, `NonErrorThrown` for a value that is not an error. */
  readonly name: string;
  /** The record's `error.message`. */
  readonly message: string;
}

/**
 * How a run whose handler threw `error` is recorded. An error of ours keeps its row of
 * {@link ERROR_TABLE} (an `InvalidRequestError` is a 400, not a 500); any other error keeps
 * its own `statusCode` when it carries one between 400 and 599, else it is a 500. It is
 * retryable when its row (or its status, see {@link isRetryableStatus}) says so, or when the
 * handler marked it `retryable: true`.
 *
 * @example
 * outcomeOfThrown(new InvalidRequestError('backfill_duration must be positive'));
 * // { status_code: 400, retryable: false, name: 'InvalidRequestError', message: 'backfill_duration must be positive' }
 */
export function outcomeOfThrown(error: unknown): ThrownOutcome {
  const errorLike = error instanceof Error || isErrorLike(error);
  const name = errorLike ? (error as Error).name || 'Error' : 'NonErrorThrown';
  const marked = (error as { retryable?: unknown } | null)?.retryable === true;
  if (isErrorCode(name)) {
    const policy = ERROR_TABLE[name];
    return { status_code: policy.status, retryable: policy.retry || marked, name, message: describe(error) };
  }
  const own = ownStatusOf(error);
  const status_code = own ?? UNLISTED.status;
  return {
    status_code,
    retryable: marked || (own !== undefined && isRetryableStatus(own)),
    name,
    message: describe(error),
  };
}

/** An unlisted error's own HTTP status (`statusCode` or `status_code`, 400-599), if it has one. */
function ownStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { statusCode, status_code } = error as { statusCode?: unknown; status_code?: unknown };
  const status = statusCode ?? status_code;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : undefined;
}

/** Whether `error` is one of ours with the given name (works across copies of core). */
export function isPipelineError<N extends string>(error: unknown, name: N): error is Error & { name: N } {
  return error instanceof Error && error.name === name;
}

/** A short, safe description of any thrown value. */
export function describe(error: unknown): string {
  // Duck-typed as well: an error made in another realm (a native addon, a vm context, jest's
  // sandbox) is not `instanceof Error` here, yet has its message.
  if (error instanceof Error || isErrorLike(error)) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

function isErrorLike(value: unknown): value is { message: string; name: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string' &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}
