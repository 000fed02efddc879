import { createHash } from 'node:crypto';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';

/**
 * How run records are laid out in the DynamoDB table (layout 2). Kept apart from the store so the
 * store, the migration and the tests read one definition.
 *
 * | item | `service` (PK) | `run_id` (SK) | `entity` | `status` |
 * |---|---|---|---|---|
 * | a run | the service | the run id (ULID) | `run#NN` | `<STATUS>#NN` |
 * | an idempotency key | `#idempotency#<key>` | `#lock#<hash of key>` | – | – |
 *
 * `NN` is the run's shard, `00`–`15`, a hash of its run id: the all-runs index
 * (`entity-run_id-index`) and the status index (`status-run_id-index`) are spread over 16
 * partition key values each instead of one (`run`) or six (the statuses).
 */
export const SHARDS = 16;

/** Partition-key prefix of idempotency key items (kept apart from service partitions). */
export const KEY_PREFIX = '#idempotency#';

/** The sort key of layout 1's lock items (one GSI partition for every key: migrated away). */
export const LEGACY_LOCK_SORT_KEY = '#lock';

/** The shard (`00`–`15`) of a run: FNV-1a of its run id, so every write of a run lands on one shard. */
export function shardOf(runId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) {
    hash ^= runId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return String(hash % SHARDS).padStart(2, '0');
}

/** Every shard, `00` to `15`. */
export const ALL_SHARDS: readonly string[] = Array.from({ length: SHARDS }, (_, i) => String(i).padStart(2, '0'));

/** The `entity` value of a run: the partition of the all-runs index it lands on. */
export const entityOf = (runId: string): string => `run#${shardOf(runId)}`;

/** The stored `status` of a run: its status and its shard (the partition of the status index). */
export const storedStatus = (status: string, runId: string): string => `${status}#${shardOf(runId)}`;

/** The key of the item that holds an idempotency key. */
export function keyItemKey(idempotencyKey: string): { service: string; run_id: string } {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24);
  return { service: KEY_PREFIX + idempotencyKey, run_id: `#lock#${hash}` };
}

/** A run as stored: the record plus its index attributes. */
export type RunItem = Omit<RunExecutionMetadata, 'status'> & { status: string; entity: string };

/** The item of a run record. */
export function runItem(record: RunExecutionMetadata): RunItem {
  return { ...record, status: storedStatus(record.status, record.run_id), entity: entityOf(record.run_id) };
}

/** The record in a run item, of either layout (layout 1 stored `status` bare and `entity: "run"`); `expires_at` (TTL) is the table's, not the record's. */
export function recordOf(item: Record<string, unknown>): RunExecutionMetadata {
  const { entity: _entity, expires_at: _expires, ...record } = item;
  return { ...record, status: String(record.status).split('#')[0] } as RunExecutionMetadata;
}

/** Whether an item is a run record (not an idempotency key item). */
export const isRunItem = (item: Record<string, unknown>): boolean =>
  typeof item.service === 'string' && !item.service.startsWith(KEY_PREFIX);

/** Whether a run item is already in layout 2. */
export const isCurrentRunItem = (item: Record<string, unknown>): boolean =>
  typeof item.entity === 'string' && item.entity.startsWith('run#') && String(item.status).includes('#');
