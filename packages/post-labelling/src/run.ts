import { existsSync } from 'node:fs';
import { describe, type HandlerResult, type RunContext } from '@pipeline-invocation/core';
import type { Classifier } from './classifier';
import { labelQueue, type LabelRunResult, type MissingClassifier } from './engine';
import type { PacingOptions } from './pacing/labelling-client';
import { windowStart, type LabellingWindow } from './payload';
import { QueueLock } from './queue/queue-lock';
import { SqliteQueue } from './queue/sqlite-queue';
import { queueTimestamp } from './timestamps';

/** The two queue files of a labelling service. */
export interface QueueFiles {
  input: string;
  output: string;
}

/** What {@link runLabelling} needs from a plugin. */
export interface LabellingRun {
  /** The validated payload (run type, backfill window, cap). */
  event: LabellingWindow & Record<string, unknown>;
  context: RunContext;
  files: QueueFiles;
  /** `undefined` when it cannot be built (no API key): a run with nothing pending still succeeds. */
  classifier: Classifier | undefined;
  /** The classifier's name even when it could not be built (run metadata's `inference_type`). */
  classifierName: string;
  /** Whose key is missing and how to set it, for when posts wait and there is no classifier. */
  missingClassifier?: MissingClassifier;
  /** What to tell the user when the API is gone for good. */
  successor?: string;
  pacing: PacingOptions;
  /** How long a queue write waits for another process's lock (ms). */
  busyTimeoutMs: number;
  /** The run's clock. */
  now: () => Date;
}

/**
 * The whole of a labelling handler's `handle`: take the input queue's run lock (a second run gets
 * 409 naming the holder), label every pending post into the output queue, and answer as the
 * original did (200 "Classification of latest posts completed successfully", or 500 "Error in
 * classification of latest posts: ...") with its metadata shape and the engine's counts.
 */
export async function runLabelling(run: LabellingRun): Promise<HandlerResult> {
  const { event, context, files } = run;
  const inferenceTimestamp = queueTimestamp(run.now());
  // the lock first, in its own file beside the input: the producer's file is not touched by it
  const lock = QueueLock.acquire(files.input, context.runId, {
    now: () => run.now().getTime(),
    busyTimeoutMs: run.busyTimeoutMs,
  });
  if (!(lock instanceof QueueLock)) {
    const { holder, pid, host } = lock.heldBy;
    return {
      statusCode: 409,
      body:
        `Another run (${holder}, pid ${pid} on ${host}) is labelling ${files.input}; this run labelled nothing. ` +
        `Wait for it to finish, or stop it with \`pipeline cancel ${holder}\`.`,
      metadata: { ...metadataOf(run, inferenceTimestamp, undefined), lock_holder: holder },
    };
  }
  let input: SqliteQueue;
  try {
    if (!existsSync(files.input)) context.logger.info(`input queue ${files.input} did not exist: created it empty`);
    input = new SqliteQueue(files.input, { busyTimeoutMs: run.busyTimeoutMs });
  } catch (error) {
    lock.release();
    throw error;
  }
  let output: SqliteQueue | undefined;
  let result: LabelRunResult | undefined;
  try {
    output = new SqliteQueue(files.output, { busyTimeoutMs: run.busyTimeoutMs });
    result = await labelQueue({
      input,
      output,
      classifier: run.classifier,
      missingClassifier: run.missingClassifier,
      successor: run.successor,
      pacing: run.pacing,
      createdAfter: windowStart(event, run.now()),
      maxPosts: event.max_records_per_run,
      signal: context.signal,
      logger: context.logger,
      metrics: context.metrics,
      progress: context.progress,
      now: run.now,
    });
    context.logger.info('classification finished', { ...result });
    return {
      statusCode: 200,
      body: 'Classification of latest posts completed successfully',
      metadata: metadataOf(run, inferenceTimestamp, result),
    };
  } catch (error) {
    if (context.signal.aborted) throw error; // timed out or cancelled: the executor records it
    const message = describe(error);
    context.logger.error('classification failed', { error: message });
    return {
      statusCode: 500,
      body: `Error in classification of latest posts: ${message}`,
      metadata: metadataOf(run, inferenceTimestamp, result),
    };
  } finally {
    lock.release();
    input.close();
    output?.close();
  }
}

function metadataOf(run: LabellingRun, inferenceTimestamp: string, result: LabelRunResult | undefined) {
  return {
    inference_type: run.classifierName,
    inference_timestamp: inferenceTimestamp,
    total_classified_posts: result ? result.labelled : 0,
    event: run.event,
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
