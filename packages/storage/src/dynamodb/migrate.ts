import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoRunStore } from './dynamo-store';
import {
  KEY_PREFIX,
  LEGACY_LOCK_SORT_KEY,
  entityOf,
  isCurrentRunItem,
  isRunItem,
  keyItemKey,
  recordOf,
  storedStatus,
} from './layout';

/** What {@link migrateRunTable} changed. */
export interface MigrationReport {
  /** Run items given their shard (`entity`, `status`). */
  runs: number;
  /** Layout 1 lock items moved to their key items. */
  keys: number;
  /** Items already in the current layout. */
  unchanged: number;
}

/**
 * Bring a run table written by layout 1 (every run on the index partition `run`, bare statuses,
 * one lock sort key) to the current layout, in place: the table and its indexes stay, each item's
 * index attributes are rewritten. Safe to run twice (the second run changes nothing) and while
 * runs are written: every write is conditional on the value it replaces.
 *
 * Run it (`pipeline storage migrate`) before starting workers of this version: until a table is
 * migrated, its old runs are listed per service but not in the all-runs listing.
 */
export async function migrateRunTable(store: DynamoRunStore): Promise<MigrationReport> {
  const doc = DynamoDBDocumentClient.from(store.client, { marshallOptions: { removeUndefinedValues: true } });
  const TableName = store.tableName;
  const report: MigrationReport = { runs: 0, keys: 0, unchanged: 0 };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (item.run_id === LEGACY_LOCK_SORT_KEY && String(item.service).startsWith(KEY_PREFIX)) {
        await moveLock(doc, TableName, item);
        report.keys++;
      } else if (isRunItem(item) && !isCurrentRunItem(item)) {
        await shardRun(doc, TableName, item);
        report.runs++;
      } else report.unchanged++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return report;
}

/** Give a run item its shard, conditional on the status read (a concurrent finish wins, then is sharded). */
async function shardRun(doc: DynamoDBDocumentClient, TableName: string, item: Record<string, unknown>) {
  const Key = { service: item.service, run_id: item.run_id };
  let current: Record<string, unknown> | undefined = item;
  for (let attempt = 0; current && !isCurrentRunItem(current) && attempt < 5; attempt++) {
    const status = String(current.status);
    try {
      await doc.send(
        new UpdateCommand({
          TableName,
          Key,
          UpdateExpression: 'SET entity = :entity, #status = :sharded',
          ConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':entity': entityOf(String(item.run_id)),
            ':sharded': storedStatus(status, String(item.run_id)),
            ':status': status,
          },
        }),
      );
      return;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      current = (await doc.send(new GetCommand({ TableName, Key, ConsistentRead: true }))).Item;
    }
  }
}

/** Move a layout 1 lock item to its key item, with the owner's record, then delete it. */
async function moveLock(doc: DynamoDBDocumentClient, TableName: string, lock: Record<string, unknown>) {
  const key = String(lock.service).slice(KEY_PREFIX.length);
  const owner = (
    await doc.send(
      new GetCommand({
        TableName,
        Key: { service: lock.owner_service, run_id: lock.owner_run_id },
        ConsistentRead: true,
      }),
    )
  ).Item;
  const record = owner ? recordOf(owner) : undefined;
  try {
    await doc.send(
      new PutCommand({
        TableName,
        Item: {
          ...keyItemKey(key),
          owner_run_id: lock.owner_run_id,
          owner_service: lock.owner_service,
          owner_status: record?.status ?? lock.owner_status,
          owner_started_at: lock.owner_started_at,
          record,
        },
        // A key item already there was written by a newer begin: it wins.
        ConditionExpression: 'attribute_not_exists(service)',
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
  await doc.send(new DeleteCommand({ TableName, Key: { service: lock.service, run_id: lock.run_id } }));
}
