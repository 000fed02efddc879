import { DEFAULT_METADATA_TABLE_NAME, type RunStore } from '@pipeline-invocation/core';

/**
 * Where a store keeps its records, for each record's `metadata_table_name` (the original's
 * field naming its DynamoDB table): the table of a DynamoDB store, the file of a SQLite store,
 * `memory` for the in-memory store, `writeMetadata()` for a custom writer. Read from the
 * `description` every store has (`dynamodb:<table>`, `sqlite:<file>`, `memory`).
 *
 * @example
 * recordLocationOf({ description: 'dynamodb:team_runs' } as RunStore); // 'team_runs'
 */
export function recordLocationOf(store: Pick<RunStore, 'description'>): string {
  const description = store.description?.trim();
  if (!description) return DEFAULT_METADATA_TABLE_NAME;
  const match = /^(dynamodb|sqlite):(.+)$/.exec(description);
  return match ? match[2]! : description;
}
