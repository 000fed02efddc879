import type { StoreErrorKind } from '@pipeline-invocation/core';

/**
 * How store errors are classified: the one place retries (core's retry policy, through
 * `RunStore.classifyError`) and the outbox's quarantine decide from. By error name and code,
 * never by message text.
 *
 * - `transient`: worth another attempt (network, throttling, 5xx, a busy SQLite file).
 * - `rejected`: this record can never be stored (DynamoDB's 400 KB item limit or another
 *   validation failure, SQLite's size limit). Retrying is useless, and it must not block the
 *   records behind it: the outbox quarantines it.
 * - `unavailable`: the store is unusable until someone fixes it (a missing table, a read-only
 *   file, a full disk, a closed store, a bug): not retried, and records wait for the fix.
 */
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'AbortError',
]);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);
const REJECTED_NAMES = new Set(['ValidationException', 'SerializationException']);
/** Programming errors and missing resources: no attempt will go better until someone acts. */
const UNAVAILABLE_NAMES = new Set([
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'ResourceNotFoundException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ConditionalCheckFailedException',
]);

type ErrorLike = {
  name?: string;
  code?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
};

/** The kind of a store error (see the module's description). */
export function classifyStoreError(error: unknown): StoreErrorKind {
  const e = (error ?? {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'RunStoreError') {
    // our own wrapper: its cause (SQLITE_BUSY, SQLITE_FULL, ...) says what it is
    return e.cause === undefined ? 'unavailable' : classifyStoreError(e.cause);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'transient';
  if (code.startsWith('SQLITE_TOOBIG') || REJECTED_NAMES.has(e.name ?? '')) return 'rejected';
  if (code.startsWith('SQLITE_') || code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS') return 'unavailable';
  if (UNAVAILABLE_NAMES.has(e.name ?? '')) return 'unavailable';
  if (e.$retryable || TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(code)) return 'transient';
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 ? 'transient' : 'unavailable';
  return 'transient'; // an unknown failure on the way (a dropped socket, "socket hang up") may pass
}

/** Whether another attempt of the same store call may succeed. */
export function isTransientStoreError(error: unknown): boolean {
  return classifyStoreError(error) === 'transient';
}

/** Whether the store refuses this record for good (it must be quarantined, not retried). */
export function isRecordRejected(error: unknown): boolean {
  return classifyStoreError(error) === 'rejected';
}
