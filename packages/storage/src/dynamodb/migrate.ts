import { DescribeTableCommand, UpdateTableCommand, type TableDescription } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  RunStoreError,
  scopedKey,
  systemClock,
  type Clock,
  type RunExecutionMetadata,
  type RunStatus,
} from '@pipeline-invocation/core';
import type { DynamoRunStore } from './dynamo-store';
import {
  KEY_PREFIX,
  LAYOUT,
  entityOf,
  isCurrentKeyItem,
  isCurrentRunItem,
  isLegacyKeyItem,
  isRunItem,
  keyItemKey,
  keyItemOf,
  plainStatus,
  recordOf,
  serviceStatusOf,
  statusShardOf,
} from './layout';
import { OBSOLETE_INDEXES, runTableDefinition } from './table';

/** What {@link migrateRunTable} changed. */
export interface MigrationReport {
  /** The layout the table is in now. */
  layout: number;
  /** Run items rewritten: plain `status`, their index attributes added. */
  runs: number;
  /** Idempotency key items of layouts 1 and 2 moved to their scoped item (`<service>#<key>`). */
  keys: number;
  /** Items already in the current layout. */
  unchanged: number;
  /** Indexes added (UpdateTable, each waited for until ACTIVE). */
  indexesAdded: string[];
  /** Indexes of earlier layouts removed. */
  indexesRemoved: string[];
}

/** Options of {@link migrateRunTable}. */
export interface MigrationOptions {
  /** How long to wait for each new index to become ACTIVE (ms; default 30 minutes: a large table backfills slowly). */
  maxIndexWaitMs?: number;
  /** How often the index's status is read while waiting (ms; default 5 s). */
  indexPollMs?: number;
  clock?: Clock;
  /** Told what the migration is doing (adding an index can take minutes): the CLI logs it on stderr. */
  onProgress?: (message: string) => void;
}

/**
 * Bring a run table written by layout 1 or 2 to layout 3, in place:
 *
 * 1. the indexes layout 3 reads (`status_shard-run_id-index`, `service_status-run_id-index`) are
 *    added with UpdateTable, one at a time, each waited for until ACTIVE (before any item
 *    changes: a server that cannot add them stops the migration with nothing changed);
 * 2. every run item gets its plain `status` back and its index attributes (`entity`,
 *    `status_shard`, `service_status`), conditional on the status read (a run finishing
 *    meanwhile wins and is rewritten after);
 * 3. every key item of layout 1 (`#lock`) or 2 (`#lock#<hash>`), which were not scoped by
 *    service, is written as its scoped item (`#idempotency#<owner service>#<key>`; a scoped item
 *    already there was written by this version and wins) and the old one deleted, conditional on
 *    its owner as read: a SUCCEEDED key still replays its run after the migration;
 * 4. the index layout 3 no longer uses (`status-run_id-index`, keyed on the plain status now) is
 *    removed.
 *
 * Safe to run twice (the second run changes nothing) and while runs are written: every write is
 * conditional on the value it replaces.
 */
export async function migrateRunTable(store: DynamoRunStore, options: MigrationOptions = {}): Promise<MigrationReport> {
  const doc = DynamoDBDocumentClient.from(store.client, { marshallOptions: { removeUndefinedValues: true } });
  const TableName = store.tableName;
  const clock = options.clock ?? systemClock;
  const report: MigrationReport = {
    layout: LAYOUT,
    runs: 0,
    keys: 0,
    unchanged: 0,
    indexesAdded: [],
    indexesRemoved: [],
  };

  report.indexesAdded = await addMissingIndexes(store, options, clock);
  options.onProgress?.(`rewriting the items of ${TableName} in layout ${LAYOUT}`);

  const created = new Set<string>(); // scoped key items this migration wrote (the scan may meet them)
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (isLegacyKeyItem(item)) {
        const moved = await moveKey(doc, TableName, item, clock);
        if (moved) {
          created.add(`${moved.service}\u0000${moved.run_id}`);
          report.keys++;
        } else report.unchanged++;
      } else if (isCurrentKeyItem(item)) {
        if (!created.has(`${String(item.service)}\u0000${String(item.run_id)}`)) report.unchanged++;
      } else if (isRunItem(item) && !isCurrentRunItem(item)) {
        if (await rewriteRun(doc, TableName, item)) report.runs++;
        else report.unchanged++;
      } else report.unchanged++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  report.indexesRemoved = await removeObsoleteIndexes(store, options);
  return report;
}

/** Add the indexes of {@link runTableDefinition} the table lacks, one at a time, each waited for until ACTIVE. */
async function addMissingIndexes(store: DynamoRunStore, options: MigrationOptions, clock: Clock): Promise<string[]> {
  const wanted = runTableDefinition(store.tableName).GlobalSecondaryIndexes ?? [];
  const added: string[] = [];
  let table = await describe(store);
  for (const index of wanted) {
    if (table.GlobalSecondaryIndexes?.some((g) => g.IndexName === index.IndexName)) continue;
    const provisioned = table.BillingModeSummary?.BillingMode !== 'PAY_PER_REQUEST' && table.ProvisionedThroughput;
    options.onProgress?.(
      `adding index ${index.IndexName} (DynamoDB backfills it from the table; this can take minutes)`,
    );
    try {
      await store.client.send(
        new UpdateTableCommand({
          TableName: store.tableName,
          // the new index's key attributes (all strings); DynamoDB refuses definitions no key uses
          AttributeDefinitions: index.KeySchema!.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: index.IndexName,
                KeySchema: index.KeySchema,
                Projection: index.Projection,
                // a provisioned table's new index gets the table's capacity (on-demand tables need none)
                ...(provisioned
                  ? {
                      ProvisionedThroughput: {
                        ReadCapacityUnits: provisioned.ReadCapacityUnits ?? 5,
                        WriteCapacityUnits: provisioned.WriteCapacityUnits ?? 5,
                      },
                    }
                  : {}),
              },
            },
          ],
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ValidationException') throw error;
      throw cannotAddIndex(store, index.IndexName!, (error as Error).message, error);
    }
    table = await waitForIndex(store, index.IndexName!, options, clock);
    added.push(index.IndexName!);
  }
  return added;
}

/** Wait until index `name` is ACTIVE and backfilled; the table's description then. */
async function waitForIndex(
  store: DynamoRunStore,
  name: string,
  { maxIndexWaitMs = 30 * 60_000, indexPollMs = 5000 }: MigrationOptions,
  clock: Clock,
): Promise<TableDescription> {
  const startedMs = clock.now();
  for (;;) {
    const table = await describe(store);
    const index = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === name);
    if (!index) {
      // DynamoDB lists a new index at once (CREATING); a server that accepted the request and
      // does not list it (dynalite, some emulators) cannot add indexes to an existing table.
      throw cannotAddIndex(store, name, 'the server accepted the request but did not add it');
    }
    if (index.IndexStatus === 'ACTIVE' && !index.Backfilling) return table;
    if (clock.now() - startedMs >= maxIndexWaitMs) {
      throw new RunStoreError(
        store.description,
        `the new index "${name}" is still ${index.IndexStatus} after ${Math.round(maxIndexWaitMs / 1000)} s`,
        'Run `pipeline storage migrate` again once it is ACTIVE (`aws dynamodb describe-table`); it goes on where it stopped',
      );
    }
    await clock.sleep(indexPollMs);
  }
}

/** The index could not be added (a DynamoDB-compatible server that cannot add indexes to a table, such as dynalite). */
function cannotAddIndex(store: DynamoRunStore, name: string, why: string, cause?: unknown): RunStoreError {
  return new RunStoreError(
    store.description,
    `the index "${name}" could not be added to the table: ${why}`,
    'Nothing was changed. If this DynamoDB-compatible server cannot add indexes to a table (dynalite cannot), ' +
      'create a new table with `pipeline storage init` (PIPELINE_DYNAMODB_TABLE=<new name>), copy the items over and migrate that one',
    cause === undefined ? undefined : { cause },
  );
}

/** Remove the indexes layout 3 no longer uses (DynamoDB deletes them in the background). */
async function removeObsoleteIndexes(store: DynamoRunStore, options: MigrationOptions): Promise<string[]> {
  const table = await describe(store);
  const removed: string[] = [];
  for (const name of OBSOLETE_INDEXES) {
    const index = table.GlobalSecondaryIndexes?.find((g) => g.IndexName === name);
    if (!index || index.IndexStatus === 'DELETING') continue;
    options.onProgress?.(`removing index ${name} (layout 3 does not use it)`);
    await store.client.send(
      new UpdateTableCommand({
        TableName: store.tableName,
        GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: name } }],
      }),
    );
    removed.push(name);
  }
  return removed;
}

async function describe(store: DynamoRunStore): Promise<TableDescription> {
  try {
    return (await store.client.send(new DescribeTableCommand({ TableName: store.tableName }))).Table!;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    throw new RunStoreError(
      store.description,
      `the table "${store.tableName}" does not exist`,
      'Create it with `pipeline storage init` (or set PIPELINE_DYNAMODB_TABLE to an existing table)',
      { cause: error },
    );
  }
}

const isConditionFailure = (error: unknown): boolean =>
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/**
 * Rewrite a run item in layout 3, conditional on the status read (a concurrent write wins, then
 * the item is read again and, if still old, rewritten). False when it needed nothing after all.
 */
async function rewriteRun(
  doc: DynamoDBDocumentClient,
  TableName: string,
  item: Record<string, unknown>,
): Promise<boolean> {
  const Key = { service: item.service, run_id: item.run_id };
  const runId = String(item.run_id);
  let current: Record<string, unknown> | undefined = item;
  for (let attempt = 0; current && !isCurrentRunItem(current) && attempt < 5; attempt++) {
    const stored = current.status;
    const update =
      typeof stored === 'string'
        ? {
            UpdateExpression: 'SET #status = :plain, entity = :entity, status_shard = :shard, service_status = :ss',
            ConditionExpression: '#status = :stored',
            ExpressionAttributeValues: {
              ':plain': plainStatus(stored),
              ':entity': entityOf(runId),
              ':shard': statusShardOf(plainStatus(stored), runId),
              ':ss': serviceStatusOf(String(item.service), plainStatus(stored)),
              ':stored': stored,
            },
          }
        : {
            // a run item without a status (not written by this library): it is listed, never given one
            UpdateExpression: 'SET entity = :entity REMOVE status_shard, service_status',
            ConditionExpression: 'attribute_exists(run_id) AND attribute_not_exists(#status)',
            ExpressionAttributeValues: { ':entity': entityOf(runId) },
          };
    try {
      await doc.send(
        new UpdateCommand({ TableName, Key, ...update, ExpressionAttributeNames: { '#status': 'status' } }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      current = (await doc.send(new GetCommand({ TableName, Key, ConsistentRead: true }))).Item;
    }
  }
  return false;
}

/**
 * Move a key item of layout 1 or 2 (`#idempotency#<key>`, one per key across services) to its
 * scoped item (`#idempotency#<owner service>#<key>`), with the owner's status as its run item
 * says (the run's word is final; the old key item may not have heard how it ended), then delete
 * the old item if it still names the owner read. The scoped item's primary key, or `undefined`
 * when the old item was left (no owner named) or was gone.
 */
async function moveKey(
  doc: DynamoDBDocumentClient,
  TableName: string,
  legacy: Record<string, unknown>,
  clock: Clock,
): Promise<{ service: string; run_id: string } | undefined> {
  const key = String(legacy.service).slice(KEY_PREFIX.length);
  const oldKey = { service: legacy.service, run_id: legacy.run_id };
  let old: Record<string, unknown> | undefined = legacy;
  let wrote: { owner: string; status: string } | undefined;
  for (let attempt = 0; old && attempt < 5; attempt++) {
    if (typeof old.owner_service !== 'string' || typeof old.owner_run_id !== 'string') return undefined;
    const ownerItem = (
      await doc.send(
        new GetCommand({
          TableName,
          Key: { service: old.owner_service, run_id: old.owner_run_id },
          ConsistentRead: true,
        }),
      )
    ).Item;
    const record = (ownerItem ? recordOf(ownerItem) : old.record) as Partial<RunExecutionMetadata> | undefined;
    const status = (record?.status ?? plainStatus(String(old.owner_status))) as RunStatus;
    const scoped = scopedKey(old.owner_service, key);
    const item = keyItemOf({
      key: scoped,
      service: old.owner_service,
      run_id: old.owner_run_id,
      status,
      ...(record?.payload_hash ? { payload_hash: record.payload_hash } : {}),
      heartbeat_at:
        record?.heartbeat_at ??
        record?.started_at ??
        (typeof old.owner_started_at === 'string' ? old.owner_started_at : new Date(clock.now()).toISOString()),
    });
    try {
      await doc.send(
        new PutCommand({
          TableName,
          Item: { ...item, ...(typeof old.expires_at === 'number' ? { expires_at: old.expires_at } : {}) },
          // a scoped item already there was written by this version (or by this migration, from
          // an owner that has since changed): only the latter is replaced
          ConditionExpression: wrote
            ? 'attribute_not_exists(service) OR (owner_run_id = :owner AND owner_status = :status)'
            : 'attribute_not_exists(service)',
          ...(wrote ? { ExpressionAttributeValues: { ':owner': wrote.owner, ':status': wrote.status } } : {}),
        }),
      );
      wrote = { owner: item.owner_run_id, status: item.owner_status };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    try {
      await doc.send(
        new DeleteCommand({
          TableName,
          Key: oldKey,
          ...(typeof old.owner_status === 'string'
            ? {
                ConditionExpression: 'owner_run_id = :owner AND owner_status = :status',
                ExpressionAttributeValues: { ':owner': old.owner_run_id, ':status': old.owner_status },
              }
            : {
                ConditionExpression: 'owner_run_id = :owner AND attribute_not_exists(owner_status)',
                ExpressionAttributeValues: { ':owner': old.owner_run_id },
              }),
        }),
      );
      return keyItemKey(scoped);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // a writer of the old version changed the old item meanwhile: move it again
      old = (await doc.send(new GetCommand({ TableName, Key: oldKey, ConsistentRead: true }))).Item;
      if (!old) return keyItemKey(scoped);
    }
  }
  return undefined;
}
