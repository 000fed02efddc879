/**
 * @packageDocumentation
 * Handler plugin `ml_inference_perspective_api`: Perspective API toxicity classification of
 * queued posts (prod and backfill runs). Its default export is the plugin object the invoker
 * discovers through the `pipelineInvocation` field of this package's package.json.
 */
import { ENV, definePlugin, type DependencyContainer } from '@pipeline-invocation/core';
import { perspectiveConfigFromEnv } from './config';
import { PerspectiveApiHandler } from './handler';
import { PERSPECTIVE_CONFIG } from './tokens';

export { PerspectiveApiHandler, SERVICE, PERSPECTIVE_SUCCESSOR } from './handler';
export { PerspectivePayloadSchema, type PerspectivePayload } from './payload';
export {
  perspectiveConfigFromEnv,
  queueFiles,
  DEFAULT_PERSPECTIVE_API_URL,
  PerspectiveConfigSchema,
  type PerspectiveConfig,
} from './config';
export { PERSPECTIVE_CONFIG } from './tokens';
export { ATTRIBUTES, ATTRIBUTE_NAMES, PROB_FIELD, type Attribute } from './attributes';
export {
  PerspectiveClassifier,
  PERSPECTIVE_LABEL_MODEL,
  isEndOfLife,
  type PerspectiveClassifierOptions,
} from './classifier';
// The queue and engine pieces this package exported before the engine became its own package.
export {
  SqliteQueue,
  QUEUE_CACHE_SIZE,
  labelQueue,
  MissingApiKeyError,
  OUTPUT_ROW_SIZE,
  queueTimestamp,
  windowStart,
  parseRetryAfter,
  RateLimiter,
  type QueueRow,
  type LabelRunResult,
  type LabelRunOptions,
} from '@pipeline-invocation/post-labelling';

/**
 * The plugin: one handler. Its configuration comes from the environment the invoker was given
 * (the `ENV` token; `process.env` outside an invoker) unless the host registered its own.
 */
export default definePlugin({
  handlers: [PerspectiveApiHandler],
  register(container: DependencyContainer) {
    if (!container.isRegistered(PERSPECTIVE_CONFIG, true)) {
      container.register(PERSPECTIVE_CONFIG, {
        useFactory: (c) => perspectiveConfigFromEnv(c.isRegistered(ENV, true) ? c.resolve(ENV) : process.env),
      });
    }
  },
});
