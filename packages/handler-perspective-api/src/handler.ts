import { existsSync } from 'node:fs';
import {
  CLOCK,
  describe,
  inject,
  type Clock,
  pipelineHandler,
  type HandlerResult,
  type PipelineHandler,
  type RunContext,
} from '@pipeline-invocation/core';
import { ATTRIBUTE_NAMES } from './attributes';
import { PerspectiveClient } from './client/perspective-client';
import { queueFiles, type PerspectiveConfig } from './config';
import { labelQueue, type LabelRunResult } from './labeller';
import { PerspectivePayloadSchema, windowStart, type PerspectivePayload } from './payload';
import { QueueLock } from './queue/queue-lock';
import { SqliteQueue } from './queue/sqlite-queue';
import { queueTimestamp } from './timestamps';
import { PERSPECTIVE_CONFIG } from './tokens';

/** The service name, as in the original. */
export const SERVICE = 'ml_inference_perspective_api';

/**
 * Labels the posts pending in the input queue with the Perspective API and writes the labels to
 * the output queue (both SQLite files in the original layout). Returns 200 with the original's
 * body and metadata; any error becomes 500 "Error in classification of latest posts: ...".
 */
@pipelineHandler(SERVICE, { payload: PerspectivePayloadSchema })
export class PerspectiveApiHandler implements PipelineHandler<PerspectivePayload> {
  constructor(
    @inject(PERSPECTIVE_CONFIG) private readonly config: PerspectiveConfig,
    @inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(event: PerspectivePayload, context: RunContext): Promise<HandlerResult> {
    const inferenceTimestamp = queueTimestamp(new Date(this.clock.now()));
    const files = queueFiles(this.config);
    if (!existsSync(files.input)) context.logger.info(`input queue ${files.input} did not exist: created it empty`);
    const busyTimeoutMs = this.config.queueBusyTimeoutMs;
    const input = new SqliteQueue(files.input, { busyTimeoutMs });
    const lock = QueueLock.acquire(input, context.runId);
    if (!(lock instanceof QueueLock)) {
      input.close();
      const { holder, pid, host } = lock.heldBy;
      return {
        statusCode: 409,
        body:
          `Another run (${holder}, pid ${pid} on ${host}) is labelling ${files.input}; this run labelled nothing. ` +
          `Wait for it to finish, or stop it with \`pipeline cancel ${holder}\`.`,
        metadata: { ...metadataOf(event, inferenceTimestamp, undefined), lock_holder: holder },
      };
    }
    let output: SqliteQueue | undefined;
    let result: LabelRunResult | undefined;
    try {
      output = new SqliteQueue(files.output, { busyTimeoutMs });
      result = await labelQueue({
        input,
        output,
        client: this.config.apiKey
          ? new PerspectiveClient({
              apiKey: this.config.apiKey,
              baseUrl: this.config.baseUrl,
              qps: this.config.qps,
              requestTimeoutMs: this.config.requestTimeoutMs,
              maxAttempts: this.config.maxAttempts,
              retryBaseMs: this.config.retryBaseMs,
            })
          : undefined,
        attributes: event.attributes ?? ATTRIBUTE_NAMES,
        createdAfter: windowStart(event, new Date(this.clock.now())),
        maxPosts: event.max_records_per_run,
        signal: context.signal,
        logger: context.logger,
        metrics: context.metrics,
        progress: context.progress,
      });
      context.logger.info('classification finished', { ...result });
      return {
        statusCode: 200,
        body: 'Classification of latest posts completed successfully',
        metadata: metadataOf(event, inferenceTimestamp, result),
      };
    } catch (error) {
      if (context.signal.aborted) throw error; // timed out or cancelled: the executor records it
      const message = describe(error);
      context.logger.error('classification failed', { error: message });
      return {
        statusCode: 500,
        body: `Error in classification of latest posts: ${message}`,
        metadata: metadataOf(event, inferenceTimestamp, result),
      };
    } finally {
      lock.release();
      input.close();
      output?.close();
    }
  }
}

function metadataOf(event: PerspectivePayload, inferenceTimestamp: string, result: LabelRunResult | undefined) {
  return {
    inference_type: 'perspective_api',
    inference_timestamp: inferenceTimestamp,
    total_classified_posts: result ? result.labelled : 0,
    event,
    inference_metadata: {
      total_batches: result?.totalBatches ?? 0,
      total_posts_successfully_labeled: result?.labelled ?? 0,
      total_posts_failed_to_label: result?.failed ?? 0,
      total_posts_rejected: result?.rejected ?? 0,
      total_duplicate_posts: result?.duplicates ?? 0,
      total_malformed_rows: result?.malformed ?? 0,
      total_requests: result?.requests ?? 0,
      total_retries: result?.retries ?? 0,
    },
  };
}
