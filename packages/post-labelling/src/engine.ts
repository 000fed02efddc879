import { setMaxListeners } from 'node:events';
import type { Logger, MetricsSink } from '@pipeline-invocation/core';
import { ClassifierGoneError, type Classifier, type ClassifierAnswer } from './classifier';
import { LabellingClient, type PacingOptions } from './pacing/labelling-client';
import { flattenRow, rejectReason, type FlatPost, type RejectReason } from './posts';
import { CommitLog, type Requeue } from './queue/commit-log';
import { RejectedPosts } from './queue/rejected-posts';
import type { QueueRow, SqliteQueue } from './queue/sqlite-queue';
import { UriSet } from './queue/uri-set';
import { countPosts } from './telemetry';
import { queueTimestamp } from './timestamps';

/** Output rows hold at most this many labels (the original's batch size). */
export const OUTPUT_ROW_SIZE = 90;

/** Inputs of {@link labelQueue}. */
export interface LabelRunOptions {
  input: SqliteQueue;
  output: SqliteQueue;
  /** `undefined` when the classifier cannot be built (no API key): fine while nothing is pending. */
  classifier: Classifier | undefined;
  /** Whose key is missing, and how to set it, for when posts are pending and there is no classifier. */
  missingClassifier?: MissingClassifier;
  /** Said when the classifier's API is gone (e.g. the successor plugin to install). */
  successor?: string;
  pacing: PacingOptions;
  createdAfter?: Date;
  maxPosts?: number;
  signal: AbortSignal;
  logger: Logger;
  metrics: MetricsSink;
  progress: (done: number, total: number) => void;
  /** Posts per page (one commit each); default about 2 s of requests at the configured rate, in whole requests. */
  pagePosts?: number;
  /** The time labels are stamped with (default: now). */
  now?: () => Date;
}

/** What a run did. */
export interface LabelRunResult {
  /** Output rows written. */
  totalBatches: number;
  labelled: number;
  failed: number;
  /** Posts not sent to the API (no text, too short, placeholder text, no timestamp): kept in `rejected_posts` with the reason. */
  rejected: number;
  /** Repeated URIs skipped (their first copy is labelled). */
  duplicates: number;
  /** Input rows whose payload is not a JSON array of posts: kept in the input queue with status `malformed`. */
  malformed: number;
  requests: number;
  retries: number;
}

/** Whose API key is missing and how to set it (e.g. `{ api: 'Perspective', hint: 'set PERSPECTIVE_API_KEY' }`). */
export interface MissingClassifier {
  api: string;
  hint: string;
}

/** Raised when posts are pending and no classifier could be built (no API key). */
export class MissingApiKeyError extends Error {
  override name = 'MissingApiKeyError';
  constructor(pending: number, missing: MissingClassifier = { api: 'classifier', hint: 'set its API key' }) {
    super(
      `${pending} post(s) are pending but no ${missing.api} API key is set: ${missing.hint}. No post was removed from the queue.`,
    );
  }
}

interface Page {
  rowIds: number[];
  posts: FlatPost[];
  duplicates: number;
}

type PostOutcome =
  { ok: true; label: Record<string, unknown> } | { ok: false; reason: string } | { rejected: RejectReason };

interface LabelledPage {
  page: Page;
  outcomes: PostOutcome[];
}

/**
 * Label the pending posts of `input` into `output`, page by page, with any {@link Classifier}.
 * A page's valid posts are sent in requests of the classifier's batch size, paced and retried by
 * one policy ({@link LabellingClient}). The next page's requests start while the previous page
 * finishes, so the rate limiter never idles; pages are committed in order through the
 * {@link CommitLog}, so an input row is deleted only once its labels are in the output, and a
 * crash loses no post. Posts the filters reject go to the output file's `rejected_posts` table;
 * the output `queue` table holds labels only.
 */
export async function labelQueue(options: LabelRunOptions): Promise<LabelRunResult> {
  const { input, output, logger } = options;
  // Every waiting request listens to this signal: a child of the run's, without the listener cap warning.
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onRunAbort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) onRunAbort();
  else options.signal.addEventListener('abort', onRunAbort, { once: true });
  const signal = controller.signal;
  const log = new CommitLog(input, output);
  const recovered = log.recover();
  if (recovered) logger.info(`finished ${recovered} commit(s) interrupted by an earlier crash`);
  const rejectedPosts = new RejectedPosts(output);

  const pendingPosts = input.pendingItemCount(options.createdAfter);
  const total = Math.min(pendingPosts, options.maxPosts ?? Infinity);
  const result: LabelRunResult = {
    totalBatches: 0,
    labelled: 0,
    failed: 0,
    rejected: 0,
    duplicates: 0,
    malformed: 0,
    requests: 0,
    retries: 0,
  };
  if (total === 0) return result;
  if (!options.classifier) throw new MissingApiKeyError(pendingPosts, options.missingClassifier);
  const client = new LabellingClient(options.classifier, options.pacing);
  const now = options.now ?? (() => new Date());

  const started = performance.now();
  const seen = new UriSet(input);
  let done = 0;
  options.progress(0, total);
  const commit = ({ page, outcomes }: LabelledPage) => {
    const written = commitPage(log, output, rejectedPosts, page, outcomes, options.classifier!.name, now(), result);
    result.totalBatches += written;
    done += page.posts.length + page.duplicates;
    const elapsedSec = (performance.now() - started) / 1000;
    options.metrics.log({
      posts_labelled: result.labelled,
      posts_failed: result.failed,
      posts_rejected: result.rejected,
      retries: client.stats.retries,
      achieved_rate: elapsedSec > 0 ? client.stats.requests / elapsedSec : 0,
    });
    options.progress(Math.min(done, total), total);
  };

  let inFlight: Promise<LabelledPage> | undefined;
  // Posts left over from a page's last, part-filled request ride in the next page's first one
  // (a page ends on a whole input row, so without this every page would waste part of a request).
  let carry: PendingPost[] = [];
  const failCarry = () => {
    for (const pending of carry) pending.fail(signal.reason);
    carry = [];
  };
  signal.addEventListener('abort', failCarry, { once: true });
  try {
    // About 2 s of requests per page: 90 to 250 posts for one post per request; for batches
    // 8 to 32 requests' worth.
    const batch = options.classifier.batchSize;
    const requestsPerPage = Math.min(
      Math.max(Math.ceil(250 / batch), 8),
      Math.max(Math.ceil(OUTPUT_ROW_SIZE / batch), Math.ceil(client.ratePerSec * 2)),
    );
    const pagePosts = options.pagePosts ?? requestsPerPage * batch;
    for (const page of readPages(input, { ...options, pagePosts }, seen, total, result)) {
      const labelled = labelPage(page, client, signal, options.successor, carry);
      carry = labelled.carry;
      const next = labelled.done;
      next.catch(() => {}); // awaited below; keeps an abort from surfacing as unhandled
      if (inFlight) commit(await inFlight);
      inFlight = next;
    }
    if (carry.length) {
      sendBatch(carry, client, signal, options.successor).catch(() => {}); // its page awaits the outcome
      carry = [];
    }
    if (inFlight) commit(await inFlight);
  } catch (error) {
    // A failed commit (or read), or an API that is gone, ends the run: the next page's requests
    // must not go on in the background, spending quota on labels nobody will write.
    controller.abort(error);
    throw error;
  } finally {
    options.signal.removeEventListener('abort', onRunAbort);
    signal.removeEventListener('abort', failCarry);
    client.close();
    result.requests = client.stats.requests;
    result.retries = client.stats.retries;
  }
  return result;
}

/** Read pending rows into pages of about `pagePosts` posts, deduplicated by URI. */
function* readPages(
  input: SqliteQueue,
  options: LabelRunOptions,
  seen: UriSet,
  total: number,
  result: LabelRunResult,
): Generator<Page> {
  const pagePosts = options.pagePosts ?? OUTPUT_ROW_SIZE;
  let afterId = 0;
  let taken = 0;
  let page: Page = { rowIds: [], posts: [], duplicates: 0 };
  for (;;) {
    const rows: QueueRow[] = input.pendingPage(afterId, 50, options.createdAfter);
    if (rows.length === 0) break;
    for (const row of rows) {
      afterId = row.id;
      const posts = flattenRow(row);
      if (!Array.isArray(posts)) {
        // Kept for a person to look at, out of the pending set so no run reads it again.
        input.setStatus([row.id], 'malformed');
        options.logger.warn(`input row ${row.id} is malformed (${posts.malformed}): kept with status "malformed"`);
        result.malformed += 1;
        continue;
      }
      if (taken > 0 && taken + posts.length > total) {
        if (page.rowIds.length) yield page;
        return;
      }
      taken += posts.length;
      page.rowIds.push(row.id);
      input.db.transaction(() => {
        for (const post of posts) {
          if (typeof post.uri === 'string' && !seen.add(post.uri)) page.duplicates += 1;
          else page.posts.push(post);
        }
      })();
      if (page.posts.length >= pagePosts) {
        yield page;
        page = { rowIds: [], posts: [], duplicates: 0 };
      }
      if (taken >= total) {
        if (page.rowIds.length) yield page;
        return;
      }
    }
  }
  if (page.rowIds.length) yield page;
}

/** A post waiting for its label: settled by whichever request carries it. */
interface PendingPost {
  text: string;
  settle(outcome: PostOutcome): void;
  fail(error: unknown): void;
}

/**
 * Score a page's valid posts in requests of the classifier's batch size, the posts `carried`
 * from the previous page first. A last, part-filled request is not sent: its posts are returned
 * as `carry` for the next page (or sent alone after the last page). `done` settles once every
 * post of this page has its outcome.
 */
function labelPage(
  page: Page,
  client: LabellingClient,
  signal: AbortSignal,
  successor: string | undefined,
  carried: readonly PendingPost[],
): { done: Promise<LabelledPage>; carry: PendingPost[] } {
  const outcomes: PostOutcome[] = new Array(page.posts.length);
  const own: PendingPost[] = [];
  const settled: Promise<void>[] = [];
  page.posts.forEach((post, i) => {
    const reason = rejectReason(post);
    if (reason) {
      outcomes[i] = { rejected: reason };
      return;
    }
    settled.push(
      new Promise<void>((resolve, reject) =>
        own.push({
          text: String(post.text),
          settle: (outcome) => resolve(void (outcomes[i] = outcome)),
          fail: reject,
        }),
      ),
    );
  });
  const waiting = [...carried, ...own];
  const size = client.classifier.batchSize;
  const full = waiting.length - (waiting.length % size);
  for (let start = 0; start < full; start += size) {
    sendBatch(waiting.slice(start, start + size), client, signal, successor).catch(() => {}); // seen through `settled`
  }
  return { done: Promise.all(settled).then(() => ({ page, outcomes })), carry: waiting.slice(full) };
}

/** Send one request's posts and settle each with its outcome (or fail them all). */
async function sendBatch(
  posts: readonly PendingPost[],
  client: LabellingClient,
  signal: AbortSignal,
  successor: string | undefined,
): Promise<void> {
  try {
    const answer: ClassifierAnswer = await client.score(
      posts.map((p) => p.text),
      signal,
    );
    if (!answer.ok && answer.gone) throw new ClassifierGoneError(client.classifier.name, answer.reason, successor);
    posts.forEach((pending, k) => {
      const label = answer.ok ? answer.labels[k] : undefined;
      pending.settle(
        label
          ? { ok: true, label }
          : {
              ok: false,
              reason: answer.ok ? `${client.classifier.name}_response: no label for input ${k}` : answer.reason,
            },
      );
    });
  } catch (error) {
    for (const pending of posts) pending.fail(error);
    throw error;
  }
}

/** Write a labelled page; returns the number of output rows written. */
function commitPage(
  log: CommitLog,
  output: SqliteQueue,
  rejectedPosts: RejectedPosts,
  page: Page,
  outcomes: PostOutcome[],
  classifierName: string,
  at: Date,
  result: LabelRunResult,
): number {
  const labelTimestamp = queueTimestamp(at);
  const labels: Record<string, unknown>[] = [];
  const rejected: { post: FlatPost; reason: RejectReason }[] = [];
  const failedByReason = new Map<string, Record<string, unknown>[]>();
  page.posts.forEach((post, i) => {
    const outcome = outcomes[i]!;
    if ('rejected' in outcome) {
      rejected.push({ post, reason: outcome.rejected });
      result.rejected += 1;
    } else if (outcome.ok) {
      labels.push({
        uri: post.uri,
        text: post.text,
        preprocessing_timestamp: post.preprocessing_timestamp,
        was_successfully_labeled: true,
        label_timestamp: labelTimestamp,
        ...outcome.label,
      });
      result.labelled += 1;
    } else {
      const { batch_id: _id, batch_metadata: _meta, ...original } = post;
      failedByReason.set(outcome.reason, [...(failedByReason.get(outcome.reason) ?? []), original]);
      result.failed += 1;
    }
  });
  countPosts(classifierName, 'labelled', labels.length);
  countPosts(classifierName, 'rejected', rejected.length);
  countPosts(
    classifierName,
    'failed',
    [...failedByReason.values()].reduce((n, posts) => n + posts.length, 0),
  );
  result.duplicates += page.duplicates;
  const requeue: Requeue[] = [...failedByReason].map(([reason, posts]) => ({
    posts,
    metadata: { reason: `failed_label_${classifierName}`, model_reason: reason, label_timestamp: labelTimestamp },
  }));
  let rows = 0;
  log.commit(page.rowIds, requeue, () => {
    rejectedPosts.add(rejected, labelTimestamp);
    rows = output.addInRows(labels, OUTPUT_ROW_SIZE, (row) => ({
      batch_size: OUTPUT_ROW_SIZE,
      actual_batch_size: row.length,
    })).length;
  });
  return rows;
}
