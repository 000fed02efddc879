import { setMaxListeners } from 'node:events';
import type { Logger, MetricsSink } from '@pipeline-invocation/core';
import { ATTRIBUTES, type Attribute } from './attributes';
import type { Analysis, PerspectiveClient } from './client/perspective-client';
import { flattenRow, rejectReason, type FlatPost } from './posts';
import { CommitLog, type Requeue } from './queue/commit-log';
import type { QueueRow, SqliteQueue } from './queue/sqlite-queue';
import { UriSet } from './queue/uri-set';
import { queueTimestamp } from './timestamps';

/** Output rows hold at most this many labels (the original's batch size). */
export const OUTPUT_ROW_SIZE = 90;

/** Inputs of {@link labelQueue}. */
export interface LabelRunOptions {
  input: SqliteQueue;
  output: SqliteQueue;
  /** `undefined` when no API key is configured: fine while nothing is pending. */
  client: PerspectiveClient | undefined;
  attributes: readonly Attribute[];
  createdAfter?: Date;
  maxPosts?: number;
  signal: AbortSignal;
  logger: Logger;
  metrics: MetricsSink;
  progress: (done: number, total: number) => void;
  /** Posts per page (one commit each); default about 2 s of requests at the client's rate, 90 to 250 (fewer posts in flight keeps the heap small). */
  pagePosts?: number;
}

/** What a run did. */
export interface LabelRunResult {
  /** Output rows written. */
  totalBatches: number;
  labelled: number;
  failed: number;
  /** Posts not sent to the API (no text, too short, placeholder text, no timestamp): written unlabelled with a reason. */
  rejected: number;
  /** Repeated URIs skipped (their first copy is labelled). */
  duplicates: number;
  /** Input rows whose payload is not a JSON array of posts: kept in the input queue with status `malformed`. */
  malformed: number;
  requests: number;
  retries: number;
}

/** Raised when posts are pending and no API key is set. */
export class MissingApiKeyError extends Error {
  override name = 'MissingApiKeyError';
  constructor(pending: number) {
    super(
      `${pending} post(s) are pending but no Perspective API key is set: set PERSPECTIVE_API_KEY (or GOOGLE_API_KEY). No post was removed from the queue.`,
    );
  }
}

interface Page {
  rowIds: number[];
  posts: FlatPost[];
  duplicates: number;
}

interface LabelledPage {
  page: Page;
  analyses: (Analysis | { ok: false; reason: string; rejected: true })[];
}

/**
 * Label the pending posts of `input` into `output`, page by page. The next page's requests
 * start while the previous page finishes, so the rate limiter never idles; pages are committed
 * in order through the {@link CommitLog}, so an input row is deleted only once its labels are
 * in the output, and a crash loses no post.
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
  const client = options.client;
  if (!client) throw new MissingApiKeyError(pendingPosts);

  const started = performance.now();
  const seen = new UriSet(input);
  let done = 0;
  options.progress(0, total);
  const commit = ({ page, analyses }: LabelledPage) => {
    const written = commitPage(log, output, page, analyses, options.attributes, result);
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
  try {
    const pagePosts = options.pagePosts ?? Math.min(250, Math.max(OUTPUT_ROW_SIZE, Math.ceil(client.ratePerSec * 2)));
    for (const page of readPages(input, { ...options, pagePosts }, seen, total, result)) {
      const next = labelPage(page, client, options.attributes, signal);
      next.catch(() => {}); // awaited below; keeps an abort from surfacing as unhandled
      if (inFlight) commit(await inFlight);
      inFlight = next;
    }
    if (inFlight) commit(await inFlight);
  } catch (error) {
    // A failed commit (or read) ends the run: the next page's requests must not go on in the
    // background, spending quota on labels nobody will write.
    controller.abort(error);
    throw error;
  } finally {
    options.signal.removeEventListener('abort', onRunAbort);
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

async function labelPage(
  page: Page,
  client: PerspectiveClient,
  attributes: readonly Attribute[],
  signal: AbortSignal,
): Promise<LabelledPage> {
  const analyses = await Promise.all(
    page.posts.map((post) => {
      const reason = rejectReason(post);
      if (reason) return Promise.resolve({ ok: false as const, reason, rejected: true as const });
      return client.analyze(String(post.text), attributes, signal);
    }),
  );
  return { page, analyses };
}

/** Write a labelled page; returns the number of output rows written. */
function commitPage(
  log: CommitLog,
  output: SqliteQueue,
  page: Page,
  analyses: LabelledPage['analyses'],
  attributes: readonly Attribute[],
  result: LabelRunResult,
): number {
  const labelTimestamp = queueTimestamp();
  const labels: Record<string, unknown>[] = [];
  const failedByReason = new Map<string, Record<string, unknown>[]>();
  page.posts.forEach((post, i) => {
    const analysis = analyses[i]!;
    if (analysis.ok) {
      labels.push(label(post, labelTimestamp, analysis.scores, attributes));
      result.labelled += 1;
    } else if ('rejected' in analysis) {
      labels.push({ ...label(post, labelTimestamp, undefined, attributes), reason: analysis.reason });
      result.rejected += 1;
    } else {
      const { batch_id: _id, batch_metadata: _meta, ...original } = post;
      failedByReason.set(analysis.reason, [...(failedByReason.get(analysis.reason) ?? []), original]);
      result.failed += 1;
    }
  });
  result.duplicates += page.duplicates;
  const requeue: Requeue[] = [...failedByReason].map(([reason, posts]) => ({
    posts,
    metadata: { reason: 'failed_label_perspective_api', model_reason: reason, label_timestamp: labelTimestamp },
  }));
  let rows = 0;
  log.commit(page.rowIds, requeue, () => {
    rows = output.addInRows(labels, OUTPUT_ROW_SIZE, (row) => ({
      batch_size: OUTPUT_ROW_SIZE,
      actual_batch_size: row.length,
    })).length;
  });
  return rows;
}

/** An output record in the original's fields. */
function label(
  post: FlatPost,
  labelTimestamp: string,
  scores: Record<Attribute, number> | undefined,
  requested: readonly Attribute[],
): Record<string, unknown> {
  const record: Record<string, unknown> = {
    uri: post.uri,
    text: post.text,
    preprocessing_timestamp: post.preprocessing_timestamp,
    was_successfully_labeled: scores !== undefined,
    label_timestamp: labelTimestamp,
  };
  for (const [attribute, field] of ATTRIBUTES) {
    record[field] = scores && requested.includes(attribute) ? scores[attribute] : null;
  }
  record.prob_constructive = record.prob_reasoning;
  return record;
}
