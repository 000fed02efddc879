/**
 * @packageDocumentation
 * Handler plugin `ml_inference_openai_moderation`: OpenAI moderation labels for queued posts
 * (prod and backfill runs), over the shared labelling engine. Its default export is the plugin
 * object the invoker discovers through the `pipelineInvocation` field of this package's
 * package.json.
 */
import { ENV, definePlugin, type DependencyContainer } from '@pipeline-invocation/core';
import { moderationConfigFromEnv } from './config';
import { OpenAiModerationHandler } from './handler';
import { MODERATION_CONFIG } from './tokens';

export { OpenAiModerationHandler, SERVICE } from './handler';
export { ModerationClassifier, probField, type ModerationClassifierOptions } from './classifier';
export {
  moderationConfigFromEnv,
  queueFiles,
  ModerationConfigSchema,
  DEFAULT_MODERATION_MODEL,
  DEFAULT_OPENAI_BASE_URL,
  DEFAULT_INPUT_QUEUE,
  OUTPUT_QUEUE,
  type ModerationConfig,
} from './config';
export { MODERATION_CONFIG } from './tokens';

/**
 * The plugin: one handler. Its configuration comes from the environment the invoker was given
 * (the `ENV` token; `process.env` outside an invoker) unless the host registered its own.
 */
export default definePlugin({
  handlers: [OpenAiModerationHandler],
  register(container: DependencyContainer) {
    if (!container.isRegistered(MODERATION_CONFIG, true)) {
      container.register(MODERATION_CONFIG, {
        useFactory: (c) => moderationConfigFromEnv(c.isRegistered(ENV, true) ? c.resolve(ENV) : process.env),
      });
    }
  },
});
