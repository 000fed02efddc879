import {
  runIdFloor,
  type FinishResult,
  type ListRunsQuery,
  type PruneQuery,
  type RunExecutionMetadata,
  type RunPage,
} from '@pipeline-invocation/core';

/** Statuses that block a new run with the same idempotency key. */
export const BLOCKING_STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'SUCCEEDED']);

/** The newest run with `key` that blocks a new one (RUNNING or SUCCEEDED), if any. */
export function findIdempotentRun(
  runs: Iterable<RunExecutionMetadata>,
  key: string | undefined,
): RunExecutionMetadata | undefined {
  if (!key) return undefined;
  let found: RunExecutionMetadata | undefined;
  for (const run of runs) {
    if (run.idempotency_key === key && BLOCKING_STATUSES.has(run.status) && (!found || run.run_id > found.run_id)) {
      found = run;
    }
  }
  return found;
}

/** Filter, order (newest first) and page records held in memory. The cursor is the last run id. */
export function pageOf(runs: RunExecutionMetadata[], query: ListRunsQuery): RunPage {
  const matching = runs
    .filter((r) => (!query.service || r.service === query.service) && (!query.status || r.status === query.status))
    .filter((r) => !query.cursor || r.run_id < query.cursor)
    .sort((a, b) => b.run_id.localeCompare(a.run_id));
  return pageFrom(matching, query.limit, (r) => structuredClone(r));
}

/**
 * A page from rows fetched newest first (ask for `limit + 1`: an extra row means there is a next
 * page). Only the rows kept are turned into records; the cursor is the last one's run id.
 */
export function pageFrom<T>(rows: readonly T[], limit: number, toRecord: (row: T) => RunExecutionMetadata): RunPage {
  const items = rows.slice(0, limit).map(toRecord);
  const last = items.at(-1);
  return rows.length > limit && last ? { items, nextCursor: last.run_id } : { items };
}

/**
 * The one rule of terminal writes, shared by every store: a terminal record may be written where
 * the run has no record or a RUNNING one ("write"). Over a terminal record nothing is written:
 * the same record again (a retried write whose answer was lost) is `ok`, any other is refused
 * with the record that won.
 */
export function finishDecision(
  stored: RunExecutionMetadata | undefined,
  record: RunExecutionMetadata,
): 'write' | FinishResult {
  assertTerminal(record);
  if (!stored || stored.status === 'RUNNING') return 'write';
  if (stored.status === record.status && stored.ended_at === record.ended_at) return { ok: true };
  return { ok: false, existing: stored };
}

/** `finish` takes terminal records only: a RUNNING one there is a programming error. */
export function assertTerminal(record: RunExecutionMetadata): void {
  if (record.status === 'RUNNING') {
    throw new TypeError(`finish() takes a terminal record; run ${record.run_id} is RUNNING (use begin)`);
  }
}

/**
 * The one rule of retention, shared by every store: a run goes when it started before the
 * cutoff, is not RUNNING, and (with `keepFailed`) succeeded.
 */
export function prunable(record: Pick<RunExecutionMetadata, 'run_id' | 'status'>, query: PruneQuery): boolean {
  if (record.status === 'RUNNING') return false;
  if (query.keepFailed && record.status !== 'SUCCEEDED') return false;
  return record.run_id < runIdFloor(Date.parse(query.before));
}
