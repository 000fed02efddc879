/**
 * How store errors are classified: the one place the invoker's retries and the outbox's
 * quarantine decide from.
 *
 * - transient: worth another attempt (network, throttling, 5xx, a busy SQLite file).
 * - record rejected: this record can never be stored (DynamoDB's 400 KB item limit or another
 *   validation failure, SQLite's size limit, a record that is not a terminal record). Retrying
 *   it is useless, and it must not block the records behind it.
 * - anything else (a missing table, a read-only file, a full disk): the store is unusable until
 *   someone fixes it; not retried, and records wait for the fix.
 */
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);
const REJECTED_NAMES = new Set(['ValidationException', 'SerializationException', 'TypeError']);

type ErrorLike = {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
};

/** Whether another attempt of the same store call may succeed. */
export function isTransientStoreError(error: unknown): boolean {
  const e = (error ?? {}) as ErrorLike;
  if (e.name === 'RunStoreError') return /locked|busy/i.test(e.message ?? '');
  if (isRecordRejected(error) || e.name === 'ConditionalCheckFailedException') return false;
  if (e.$retryable || TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return true; // unknown failures (a dropped socket, "socket hang up") are treated as passing
}

/** Whether the store refuses this record for good (it must be quarantined, not retried). */
export function isRecordRejected(error: unknown): boolean {
  const e = (error ?? {}) as ErrorLike;
  return REJECTED_NAMES.has(e.name ?? '') || (e.code ?? '').startsWith('SQLITE_TOOBIG');
}
