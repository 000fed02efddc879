import { createHash } from 'node:crypto';
import type { KeyItem, RunExecutionMetadata, RunStatus } from '@pipeline-invocation/core';

/**
 * How run records are laid out in the DynamoDB table (layout 3). Kept apart from the store so the
 * store, the migration and the tests read one definition.
 *
 * | item | `service` (PK) | `run_id` (SK) | index attributes | other attributes |
 * |---|---|---|---|---|
 * | a run | the service | the run id (ULID) | `entity` = `run#NN`, `status_shard` = `<STATUS>#NN`, `service_status` = `<service>#<STATUS>` | the record's own fields, unchanged (plain `status`); `expires_at` (TTL) when finished and a retention is set |
 * | an idempotency key | `#idempotency#<service>#<key>` | `#key#<hash of the scoped key>` | none | `key`, `owner_service`, `owner_run_id`, `owner_status`, `payload_hash`, `heartbeat_at`, `expires_at` |
 *
 * `NN` is the run's shard, `00`–`15`, a hash of its run id: the all-runs index
 * (`entity-run_id-index`) and the status index (`status_shard-run_id-index`) are spread over 16
 * partition key values each instead of one (`run`) or six (the statuses).
 *
 * Earlier layouts, which the migration (`migrate.ts`) brings over and the store still reads:
 * - layout 1: `entity: "run"`, bare `status`; lock items `#idempotency#<key>` / `#lock`.
 * - layout 2: `status` held the index value (`SUCCEEDED#08`); key items `#idempotency#<key>` /
 *   `#lock#<hash>`, not scoped by service.
 */
export const LAYOUT = 3;

/** Shards of the all-runs and status indexes. */
export const SHARDS = 16;

/** Partition-key prefix of idempotency key items (kept apart from service partitions). */
export const KEY_PREFIX = '#idempotency#';

/** Sort-key prefix of layout 3's key items (layout 2's were `#lock#<hash>`, layout 1's `#lock`). */
export const KEY_SORT_PREFIX = '#key#';

/** The sort key of layout 1's lock items (one GSI partition for every key: migrated away). */
export const LEGACY_LOCK_SORT_KEY = '#lock';

/** Sort-key prefix of layout 2's (unscoped) key items. */
export const LEGACY_KEY_SORT_PREFIX = '#lock#';

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

/** The `status_shard` value of a run: the partition of the status index it lands on. */
export const statusShardOf = (status: string, runId: string): string => `${status}#${shardOf(runId)}`;

/** The `service_status` value of a run: its partition of the service + status index. */
export const serviceStatusOf = (service: string, status: string): string => `${service}#${status}`;

/** Attributes of a run item that are the table's, not the record's. */
const TABLE_ATTRIBUTES = ['entity', 'status_shard', 'service_status', 'expires_at'] as const;

/** A run as stored: the record's own fields plus its index attributes. */
export type RunItem = RunExecutionMetadata & { entity: string; status_shard: string; service_status: string };

/** The index attributes of a run (none of them holds anything the record does not). */
export function indexAttributes(
  record: Pick<RunExecutionMetadata, 'service' | 'run_id' | 'status'>,
): Pick<RunItem, 'entity' | 'status_shard' | 'service_status'> {
  return {
    entity: entityOf(record.run_id),
    status_shard: statusShardOf(record.status, record.run_id),
    service_status: serviceStatusOf(record.service, record.status),
  };
}

/** The item of a run record. */
export function runItem(record: RunExecutionMetadata): RunItem {
  return { ...record, ...indexAttributes(record) };
}

/**
 * The record in a run item of any layout: the table's attributes (index values, `expires_at`)
 * are dropped, and layout 2's sharded `status` (`FAILED#07`) is read as its status. An item
 * without a status reads back without one (never as the string `"undefined"`).
 */
export function recordOf(item: Record<string, unknown>): RunExecutionMetadata {
  const record: Record<string, unknown> = { ...item };
  for (const attribute of TABLE_ATTRIBUTES) delete record[attribute];
  if (typeof record.status === 'string') record.status = plainStatus(record.status);
  else delete record.status;
  return record as RunExecutionMetadata;
}

/** A stored status of any layout without its shard suffix. */
export const plainStatus = (stored: string): string => stored.split('#')[0]!;

/** Whether an item is a run record (not an idempotency key item). */
export const isRunItem = (item: Record<string, unknown>): boolean =>
  typeof item.service === 'string' && !item.service.startsWith(KEY_PREFIX);

/** Whether a run item is already in layout 3 (plain `status`, its three index attributes in place). */
export function isCurrentRunItem(item: Record<string, unknown>): boolean {
  const runId = String(item.run_id);
  if (item.entity !== entityOf(runId)) return false;
  if (typeof item.status !== 'string') return item.status_shard === undefined && item.service_status === undefined;
  return (
    !item.status.includes('#') &&
    item.status_shard === statusShardOf(item.status, runId) &&
    item.service_status === serviceStatusOf(String(item.service), item.status)
  );
}

/** The primary key of the item that holds a (scoped) idempotency key. */
export function keyItemKey(scopedKey: string): { service: string; run_id: string } {
  return { service: KEY_PREFIX + scopedKey, run_id: KEY_SORT_PREFIX + hashOf(scopedKey) };
}

/** The primary key of layout 2's item for an (unscoped) key. */
export function legacyKeyItemKey(idempotencyKey: string): { service: string; run_id: string } {
  return { service: KEY_PREFIX + idempotencyKey, run_id: LEGACY_KEY_SORT_PREFIX + hashOf(idempotencyKey) };
}

const hashOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24);

/**
 * The stored attributes of a key item. `service` and `run_id` are the table's key, so the owner
 * is stored as `owner_service` / `owner_run_id` (and its status as `owner_status`, which keeps
 * key items out of every status index).
 */
export interface StoredKeyItem {
  service: string;
  run_id: string;
  key: string;
  owner_service: string;
  owner_run_id: string;
  owner_status: RunStatus;
  payload_hash?: string;
  heartbeat_at: string;
  expires_at?: number;
}

/** The item of a key. */
export function keyItemOf(item: KeyItem): StoredKeyItem {
  return {
    ...keyItemKey(item.key),
    key: item.key,
    owner_service: item.service,
    owner_run_id: item.run_id,
    owner_status: item.status,
    ...(item.payload_hash !== undefined ? { payload_hash: item.payload_hash } : {}),
    heartbeat_at: item.heartbeat_at,
  };
}

/** The key in a stored key item. */
export function keyOf(stored: Record<string, unknown>): KeyItem {
  return {
    key: String(stored.key),
    service: String(stored.owner_service),
    run_id: String(stored.owner_run_id),
    status: String(stored.owner_status) as RunStatus,
    ...(typeof stored.payload_hash === 'string' ? { payload_hash: stored.payload_hash } : {}),
    heartbeat_at: String(stored.heartbeat_at),
  };
}

/** Whether an item is one of layout 3's key items. */
export const isCurrentKeyItem = (item: Record<string, unknown>): boolean =>
  typeof item.service === 'string' &&
  item.service.startsWith(KEY_PREFIX) &&
  typeof item.run_id === 'string' &&
  item.run_id.startsWith(KEY_SORT_PREFIX);

/** Whether an item is a key item of layout 1 (`#lock`) or layout 2 (`#lock#<hash>`), not scoped by service. */
export const isLegacyKeyItem = (item: Record<string, unknown>): boolean =>
  typeof item.service === 'string' &&
  item.service.startsWith(KEY_PREFIX) &&
  typeof item.run_id === 'string' &&
  (item.run_id === LEGACY_LOCK_SORT_KEY || item.run_id.startsWith(LEGACY_KEY_SORT_PREFIX));
