import {
  CLOCK,
  inject,
  pipelineHandler,
  type Clock,
  type HandlerResult,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';
import { runLabelling } from '@pipeline-invocation/post-labelling';
import { ATTRIBUTE_NAMES } from './attributes';
import { PerspectiveClassifier } from './classifier';
import { queueFiles, type PerspectiveConfig } from './config';
import { PerspectivePayloadSchema, type PerspectivePayload } from './payload';
import { PERSPECTIVE_CONFIG } from './tokens';

/** The service name, as in the original. */
export const SERVICE = 'ml_inference_perspective_api';

/**
 * What a run says when the Perspective API answers that it is gone (Google ends it on
 * 31 December 2026).
 */
export const PERSPECTIVE_SUCCESSOR =
  'Google ended the Perspective API on 31 December 2026. Move to another classifier: ' +
  '@pipeline-invocation/handler-openai-moderation reads this same input queue ' +
  '(see its README, "Moving from Perspective").';

/**
 * Labels the posts pending in the input queue with the Perspective API and writes the labels to
 * the output queue (both SQLite files in the original layout), through the shared labelling
 * engine. Returns 200 with the original's body and metadata; any error becomes 500 "Error in
 * classification of latest posts: ...".
 */
@pipelineHandler(SERVICE, { payload: PerspectivePayloadSchema })
export class PerspectiveApiHandler implements PipelineHandler<PerspectivePayload> {
  constructor(
    @inject(PERSPECTIVE_CONFIG) private readonly config: PerspectiveConfig,
    @inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(event: PerspectivePayload, context: RunContext): Promise<HandlerResult> {
    const { apiKey } = this.config;
    return runLabelling({
      event,
      context,
      files: queueFiles(this.config),
      classifierName: 'perspective_api',
      classifier: apiKey
        ? new PerspectiveClassifier({
            apiKey,
            baseUrl: this.config.baseUrl,
            requestTimeoutMs: this.config.requestTimeoutMs,
            attributes: event.attributes ?? ATTRIBUTE_NAMES,
          })
        : undefined,
      missingClassifier: { api: 'Perspective', hint: 'set PERSPECTIVE_API_KEY (or GOOGLE_API_KEY)' },
      successor: PERSPECTIVE_SUCCESSOR,
      pacing: {
        requestsPerSecond: this.config.qps,
        maxAttempts: this.config.maxAttempts,
        retryBaseMs: this.config.retryBaseMs,
        maxInFlight: this.config.maxInFlight,
      },
      busyTimeoutMs: this.config.queueBusyTimeoutMs ?? 10_000,
      now: () => new Date(this.clock.now()),
    });
  }
}
