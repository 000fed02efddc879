import { setMaxListeners } from 'node:events';
import type { Logger, MetricsSink } from '@pipeline-invocation/core';
import type { Classifier } from './classifier';
import { Dispatcher, defaultMaxInFlight, type BatchOwner } from './pacing/dispatcher';
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

/** A page of one-post requests is cut after this many posts (at the end of an input row). */
const MAX_PAGE_POSTS = 100;

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

/** A post the filters kept from the API, and why. */
class Rejected {
  constructor(readonly reason: RejectReason) {}
}

/**
 * A page of posts read from the input: its rows (deleted when it commits), its posts, and each
 * post's outcome as it arrives (a label, a failure reason, or why the filters rejected it).
 * `done` settles once every post has its outcome.
 */
class Page implements BatchOwner {
  readonly rowIds: number[] = [];
  readonly posts: FlatPost[] = [];
  duplicates = 0;
  /** Per post: its label, a failure reason (string), or why it was not sent; `undefined` while unanswered. */
  readonly outcomes: (Record<string, unknown> | string | Rejected | undefined)[] = [];
  readonly done: Promise<Page>;
  private unanswered = 0;
  private resolve!: (page: Page) => void;
  private reject!: (error: unknown) => void;

  constructor() {
    this.done = new Promise<Page>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => {}); // awaited by the run; keeps an abort from surfacing as unhandled
  }

  /** Filter the page's posts; returns the indexes of those to send, and settles when there are none. */
  prepare(): number[] {
    const toSend: number[] = [];
    for (let i = 0; i < this.posts.length; i++) {
      const reason = rejectReason(this.posts[i]!);
      if (reason) this.outcomes[i] = new Rejected(reason);
      else toSend.push(i);
    }
    this.outcomes.length = this.posts.length;
    this.unanswered = toSend.length;
    if (this.unanswered === 0) this.resolve(this);
    return toSend;
  }

  textOf(index: number): string {
    return String(this.posts[index]!.text);
  }

  settle(index: number, answer: Record<string, unknown> | string): void {
    this.outcomes[index] = answer;
    if (--this.unanswered === 0) this.resolve(this);
  }

  fail(error: unknown): void {
    this.reject(error);
  }
}

/**
 * Label the pending posts of `input` into `output`, page by page, with any {@link Classifier}.
 * A page's valid posts are sent in requests of the classifier's batch size, paced and retried by
 * one policy ({@link LabellingClient}), at most `pacing.maxInFlight` requests at once
 * ({@link Dispatcher}). The next page's requests are queued while the previous page finishes,
 * so the rate limiter never idles; pages are committed in order through the {@link CommitLog},
 * so an input row is deleted only once its labels are in the output, and a crash loses no post.
 * Posts the filters reject go to the output file's `rejected_posts` table; the output `queue`
 * table holds labels only.
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
  const commit = (page: Page) => {
    const written = commitPage(log, output, rejectedPosts, page, options.classifier!.name, now(), result);
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

  const batch = options.classifier.batchSize;
  const maxInFlight = options.pacing.maxInFlight ?? defaultMaxInFlight(options.pacing.requestsPerSecond);
  const dispatcher = new Dispatcher(client, maxInFlight, signal, options.successor);
  const stop = () => dispatcher.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  let inFlight: Page | undefined;
  try {
    // About 2 s of requests per page: 90 to 100 posts for one post per request; for batches
    // 8 requests' worth, or half the requests in flight when that is more (two pages are open
    // at once: smaller pages would leave the bound unused). A page's posts stay in memory until
    // it commits, and the next page is read while it finishes: the smaller the page, the fewer
    // objects live long enough to be promoted to V8's old generation (see the README's "Memory").
    const requestsPerPage = Math.min(
      Math.max(Math.ceil(MAX_PAGE_POSTS / batch), 8, Math.ceil(maxInFlight / 2)),
      Math.max(Math.ceil(OUTPUT_ROW_SIZE / batch), Math.ceil(client.ratePerSec * 2)),
    );
    const pagePosts = options.pagePosts ?? requestsPerPage * batch;
    for (const page of readPages(input, { ...options, pagePosts }, seen, total, result)) {
      dispatcher.send(page, page.prepare());
      if (inFlight) commit(await inFlight.done);
      inFlight = page;
    }
    dispatcher.flush();
    if (inFlight) commit(await inFlight.done);
  } catch (error) {
    // A failed commit (or read), or an API that is gone, ends the run: the next page's requests
    // must not go on in the background, spending quota on labels nobody will write.
    controller.abort(error);
    throw error;
  } finally {
    options.signal.removeEventListener('abort', onRunAbort);
    signal.removeEventListener('abort', stop);
    client.close();
    result.requests = client.stats.requests;
    result.retries = client.stats.retries;
  }
  return result;
}

/**
 * Read pending rows into pages of about `pagePosts` posts, deduplicated by URI. Rows are read a
 * few at a time (about what the page still needs), not far ahead of the page being filled.
 */
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
  let rowsRead = 0;
  let page = new Page();
  for (;;) {
    // as many rows as the page still needs at the rows' average size so far (1 to 50)
    const perRow = rowsRead ? Math.max(1, taken / rowsRead) : 1;
    const want = Math.min(50, Math.max(1, Math.ceil((pagePosts - page.posts.length) / perRow)));
    const rows: QueueRow[] = input.pendingPage(afterId, want, options.createdAfter);
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
      rowsRead += 1;
      page.rowIds.push(row.id);
      input.db.transaction(() => {
        for (const post of posts) {
          if (typeof post.uri === 'string' && !seen.add(post.uri)) page.duplicates += 1;
          else page.posts.push(post);
        }
      })();
      if (page.posts.length >= pagePosts) {
        yield page;
        page = new Page();
      }
      if (taken >= total) {
        if (page.rowIds.length) yield page;
        return;
      }
    }
  }
  if (page.rowIds.length) yield page;
}

/** Write a labelled page; returns the number of output rows written. */
function commitPage(
  log: CommitLog,
  output: SqliteQueue,
  rejectedPosts: RejectedPosts,
  page: Page,
  classifierName: string,
  at: Date,
  result: LabelRunResult,
): number {
  const labelTimestamp = queueTimestamp(at);
  const labels: Record<string, unknown>[] = [];
  const rejected: { post: FlatPost; reason: RejectReason }[] = [];
  const failedByReason = new Map<string, Record<string, unknown>[]>();
  let failed = 0;
  page.posts.forEach((post, i) => {
    const outcome = page.outcomes[i]!;
    if (typeof outcome === 'string') {
      const { batch_id: _id, batch_metadata: _meta, ...original } = post;
      const posts = failedByReason.get(outcome);
      if (posts) posts.push(original);
      else failedByReason.set(outcome, [original]);
      failed += 1;
    } else if (outcome instanceof Rejected) {
      rejected.push({ post, reason: outcome.reason });
    } else {
      labels.push({
        uri: post.uri,
        text: post.text,
        preprocessing_timestamp: post.preprocessing_timestamp,
        was_successfully_labeled: true,
        label_timestamp: labelTimestamp,
        ...outcome,
      });
    }
  });
  result.labelled += labels.length;
  result.rejected += rejected.length;
  result.failed += failed;
  countPosts(classifierName, 'labelled', labels.length);
  countPosts(classifierName, 'rejected', rejected.length);
  countPosts(classifierName, 'failed', failed);
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
