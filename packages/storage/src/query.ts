import type { ListRunsQuery, RunExecutionMetadata, RunPage } from '@pipeline-invocation/core';

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
