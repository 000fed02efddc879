import {
  CLOCK,
  inject,
  pipelineHandler,
  type Clock,
  type HandlerResult,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';
import { LabellingPayloadSchema, runLabelling, type LabellingPayload } from '@pipeline-invocation/post-labelling';
import { ModerationClassifier } from './classifier';
import { queueFiles, type ModerationConfig } from './config';
import { MODERATION_CONFIG } from './tokens';

/** The service name. */
export const SERVICE = 'ml_inference_openai_moderation';

/**
 * Labels the posts pending in the input queue with OpenAI's moderation endpoint and writes the
 * labels to its own output queue, through the shared labelling engine (the same run types,
 * backfill windows, filters, exactly-once commits and failure rows as the Perspective handler).
 */
@pipelineHandler(SERVICE, { payload: LabellingPayloadSchema })
export class OpenAiModerationHandler implements PipelineHandler<LabellingPayload> {
  constructor(
    @inject(MODERATION_CONFIG) private readonly config: ModerationConfig,
    @inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(event: LabellingPayload, context: RunContext): Promise<HandlerResult> {
    const { apiKey } = this.config;
    return runLabelling({
      event,
      context,
      files: queueFiles(this.config),
      classifierName: 'openai_moderation',
      classifier: apiKey
        ? new ModerationClassifier({
            apiKey,
            organization: this.config.organization,
            project: this.config.project,
            baseUrl: this.config.baseUrl,
            model: this.config.model,
            batchSize: this.config.batchSize,
            requestTimeoutMs: this.config.requestTimeoutMs,
          })
        : undefined,
      missingClassifier: { api: 'OpenAI', hint: 'set OPENAI_API_KEY' },
      pacing: {
        requestsPerSecond: this.config.requestsPerSecond,
        maxAttempts: this.config.maxAttempts,
        retryBaseMs: this.config.retryBaseMs,
        maxInFlight: this.config.maxInFlight,
      },
      busyTimeoutMs: this.config.queueBusyTimeoutMs ?? 10_000,
      now: () => new Date(this.clock.now()),
    });
  }
}
