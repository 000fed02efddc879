/**
 * @packageDocumentation
 * The post-labelling engine that classifier plugins share: queue files in the original
 * pipeline's layout, pages, filters, de-duplication, pacing by requests per second and posts per
 * request, retries that honour `Retry-After`, exactly-once commits across the two queue files,
 * failure rows, counts and metrics, bounded memory. A plugin supplies a {@link Classifier}.
 */
export { ClassifierGoneError, type Classifier, type ClassifierAnswer, type RateLimitHint } from './classifier';
export {
  labelQueue,
  MissingApiKeyError,
  OUTPUT_ROW_SIZE,
  type LabelRunOptions,
  type LabelRunResult,
  type MissingClassifier,
} from './engine';
export { runLabelling, type LabellingRun, type QueueFiles } from './run';
export {
  LabellingClient,
  MAX_RETRY_DELAY_MS,
  parseDuration,
  parseRetryAfter,
  type ClientStats,
  type PacingOptions,
} from './pacing/labelling-client';
export { RateLimiter } from './pacing/rate-limiter';
export { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_IN_FLIGHT_CAP, defaultMaxInFlight } from './pacing/dispatcher';
export { AbortWatch } from './pacing/abort-watch';
export { JsonPost, failedRequest, type JsonPostOptions, type PostResponse } from './pacing/json-post';
export {
  LABELLING_PAYLOAD_FIELDS,
  LabellingPayloadSchema,
  labellingPayloadSchema,
  windowStart,
  type LabellingPayload,
  type LabellingWindow,
} from './payload';
export { flattenRow, rejectReason, type FlatPost, type QueuedPost, type RejectReason } from './posts';
export { SqliteQueue, QUEUE_CACHE_SIZE, type QueueRow } from './queue/sqlite-queue';
export { QueueLock, QUEUE_LOCK_TIMES, type LockHolder } from './queue/queue-lock';
export { CommitLog, type Requeue } from './queue/commit-log';
export { UriSet } from './queue/uri-set';
export { RejectedPosts } from './queue/rejected-posts';
export { queueTimestamp } from './timestamps';
