import { ConditionalCheckFailedException, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  RunStoreError,
  runIdFloor,
  type BeginResult,
  type FinishResult,
  type ListRunsQuery,
  type PruneQuery,
  type PruneResult,
  type RunExecutionMetadata,
  type RunKey,
  type RunPage,
  type RunStore,
} from '@pipeline-invocation/core';
import { BLOCKING_STATUSES, finishDecision, pageFrom, prunable } from '../query';
import { ALL_SHARDS, isRunItem, keyItemKey, recordOf, runItem, storedStatus } from './layout';
import { INDEXES } from './table';

/** Options of {@link DynamoRunStore.fromEnvironment}. */
export interface DynamoRunStoreOptions {
  tableName: string;
  /**
   * Days a finished run is kept: its item (and its idempotency key's) get `expires_at`, epoch
   * seconds, for tables with TTL enabled on that attribute (`PIPELINE_RETENTION_DAYS`).
   */
  retentionDays?: number;
  /** Extra client configuration (region, endpoint, credentials); the standard AWS chain fills the rest. */
  client?: DynamoDBClientConfig;
}

/** Time limits of one DynamoDB attempt (ms): to connect, and for the whole request. */
export const DYNAMODB_ATTEMPT_TIMEOUTS = Object.freeze({ connectionTimeout: 3000, requestTimeout: 10_000 });

/** What a key item holds: the run that owns the key, and that run's record as last written. */
interface KeyItem {
  owner_run_id: string;
  owner_service: string;
  owner_status: string;
  owner_started_at?: string;
  /** The owner's record (layout 2): a conflict is answered from the key item alone. */
  record?: RunExecutionMetadata;
}

/**
 * Run records in DynamoDB. Table key: `service` + `run_id` (ULID), so records never collide and a
 * service's latest run is one query on its partition. The all-runs and status indexes are spread
 * over 16 shards (see `layout.ts` and the package README's access patterns).
 *
 * An idempotency key is one item (`#idempotency#<key>`) holding the run that owns it and that
 * run's record: `begin` takes it with one conditional put that returns the item it found on
 * conflict (`ReturnValuesOnConditionCheckFailure`), so a replay or a mismatch is answered
 * without a read. No transactions (DynamoDB-compatible test servers lack them).
 */
export class DynamoRunStore implements RunStore {
  readonly description: string;

  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
    private readonly retentionDays?: number,
  ) {
    this.description = `dynamodb:${tableName}`;
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private readonly doc: DynamoDBDocumentClient;

  /**
   * A store whose client takes region, credentials and endpoint from the standard AWS chain
   * (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, profiles, roles).
   *
   * The client makes **one attempt** per call, each bounded in time
   * ({@link DYNAMODB_ATTEMPT_TIMEOUTS}): retries are the invoker's one retry policy (delays 1 s
   * and 2 s, transient errors only), not the SDK's 4 attempts stacked under it, which made a
   * store outage cost 12 attempts per write.
   */
  static fromEnvironment(options: DynamoRunStoreOptions): DynamoRunStore {
    const client = new DynamoDBClient({
      maxAttempts: 1,
      requestHandler: { ...DYNAMODB_ATTEMPT_TIMEOUTS },
      ...options.client,
    });
    return new DynamoRunStore(client, options.tableName, options.retentionDays);
  }

  /** `expires_at` of a finished run (epoch seconds), when a retention is configured. */
  private expiry(record: RunExecutionMetadata): { expires_at?: number } {
    if (!this.retentionDays || record.status === 'RUNNING') return {};
    const ended = Date.parse(record.ended_at ?? record.timestamp);
    return { expires_at: Math.floor(ended / 1000) + this.retentionDays * 86_400 };
  }

  async begin(record: RunExecutionMetadata): Promise<BeginResult> {
    const key = record.idempotency_key;
    if (key) {
      const existing = await this.takeKey(key, record);
      if (existing) return { ok: false, existing };
    }
    // run_id is a fresh ULID: an item already under this key can only be this run's own begin,
    // retried after its answer was lost (by the SDK or by the invoker), so it is not a conflict.
    await this.putIf(runItem(record), 'attribute_not_exists(run_id)', undefined);
    return { ok: true };
  }

  /**
   * Take idempotency key `key` for `record` with one conditional put, or return the run that
   * holds it. The put succeeds when the key is free, already ours (a retried begin) or held by a
   * run that ended without success. On conflict the item found comes back with the failure; a
   * SUCCEEDED owner is answered from it, a RUNNING one is read once (its heartbeat lives on its
   * run item, and it may have ended without the key item hearing of it).
   */
  private async takeKey(key: string, record: RunExecutionMetadata): Promise<RunExecutionMetadata | undefined> {
    const itemKey = keyItemKey(key);
    const item = {
      ...itemKey,
      owner_run_id: record.run_id,
      owner_status: record.status,
      owner_service: record.service,
      owner_started_at: record.started_at,
      record,
    };
    let condition = 'attribute_not_exists(service) OR owner_run_id = :me OR NOT owner_status IN (:running, :succeeded)';
    let values: Record<string, unknown> = { ':running': 'RUNNING', ':succeeded': 'SUCCEEDED', ':me': record.run_id };
    for (let attempt = 0; attempt < 5; attempt++) {
      const found = await this.putOrFound<KeyItem>(item, condition, values, itemKey);
      if (found === undefined) return undefined; // taken
      if (found === null) {
        // The item went away between the put and the read: take it if it is still free.
        condition = 'attribute_not_exists(service)';
        values = {};
        continue;
      }
      if (found.owner_run_id === record.run_id) return undefined;
      if (found.owner_status === 'SUCCEEDED' && found.record) return found.record;
      const owner = await this.getByKey(found.owner_service, found.owner_run_id);
      if (owner && BLOCKING_STATUSES.has(owner.status)) return owner;
      if (owner) {
        // Its run ended but the key item was not told (that write failed): take the key over.
        condition = 'owner_run_id = :owner';
        values = { ':owner': found.owner_run_id };
        continue;
      }
      // The owner took the key but its run record is not there: still being written, or its process
      // died in between. Report it with the owner's start time, so a caller can tell a fresh run
      // from a dead one (the invoker treats an old RUNNING run as crashed and finishes it).
      const startedAt = found.owner_started_at ?? record.started_at;
      return {
        ...(found.record ?? record),
        service: found.owner_service,
        run_id: found.owner_run_id,
        status: 'RUNNING',
        started_at: startedAt,
        timestamp: startedAt,
      };
    }
    throw new RunStoreError(this.description, `idempotency key "${key}" is contended`, 'Retry the invocation.');
  }

  /**
   * A conditional put: `undefined` when written; on a failed condition the item that stopped it
   * (from the failure itself where the server returns it, else read), or `null` when it is gone.
   */
  private async putOrFound<T>(
    item: Record<string, unknown>,
    condition: string,
    values: Record<string, unknown>,
    key: Record<string, unknown>,
  ): Promise<T | null | undefined> {
    const result = await this.conditionalPut(item, condition, values, true);
    if (result.written) return undefined;
    if (result.found) return result.found as T;
    const read = await this.send(() =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return (read.Item as T | undefined) ?? null;
  }

  /** A conditional put; false when the condition failed. */
  private async putIf(
    item: Record<string, unknown>,
    condition: string,
    values: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    return (await this.conditionalPut(item, condition, values, false)).written;
  }

  /** The one conditional put; with `returnFound`, a failed condition brings back the item (where the server does). */
  private async conditionalPut(
    item: Record<string, unknown>,
    condition: string,
    values: Record<string, unknown> | undefined,
    returnFound: boolean,
  ): Promise<{ written: true } | { written: false; found: Record<string, unknown> | undefined }> {
    try {
      await this.send(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: condition,
            ExpressionAttributeValues: values && Object.keys(values).length ? values : undefined,
            ...(condition.includes('#status') ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
            ...(returnFound ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
          }),
        ),
      );
      return { written: true };
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const returned = (error as ConditionalCheckFailedException).Item;
      return { written: false, found: returned ? unmarshall(returned) : undefined };
    }
  }

  async finish(record: RunExecutionMetadata): Promise<FinishResult> {
    for (let attempt = 0; ; attempt++) {
      const written = await this.putIf(
        { ...runItem(record), ...this.expiry(record) },
        'attribute_not_exists(run_id) OR #status IN (:running, :legacyRunning)',
        { ':running': storedStatus('RUNNING', record.run_id), ':legacyRunning': 'RUNNING' },
      );
      if (written) break;
      const decision = finishDecision(await this.getByKey(record.service, record.run_id), record);
      if (decision !== 'write') {
        if (decision.ok) await this.releaseKey(record);
        return decision;
      }
      if (attempt === 2) {
        throw new RunStoreError(this.description, `run ${record.run_id} is contended`, 'Retry the write.');
      }
    }
    await this.releaseKey(record);
    return { ok: true };
  }

  async heartbeat(run: RunKey, at: string): Promise<RunExecutionMetadata | undefined> {
    return this.updateRunning(run, 'SET heartbeat_at = :at', at);
  }

  async requestCancel(runId: string, at: string): Promise<RunExecutionMetadata | undefined> {
    const run = await this.get(runId);
    if (run?.status !== 'RUNNING') return run;
    return this.updateRunning(run, 'SET cancel_requested_at = if_not_exists(cancel_requested_at, :at)', at);
  }

  /** An update applied only while the run is RUNNING; returns the record as stored either way. */
  private async updateRunning(run: RunKey, update: string, at: string): Promise<RunExecutionMetadata | undefined> {
    try {
      const result = await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { service: run.service, run_id: run.run_id },
            UpdateExpression: update,
            ConditionExpression: '#status IN (:running, :legacyRunning)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':at': at,
              ':running': storedStatus('RUNNING', run.run_id),
              ':legacyRunning': 'RUNNING',
            },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return result.Attributes ? recordOf(result.Attributes) : undefined;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      return this.getByKey(run.service, run.run_id); // ended, or no such run
    }
  }

  /** Tell the key item that its run ended (with the final record, so the key is free or replays). */
  private async releaseKey(record: RunExecutionMetadata): Promise<void> {
    if (record.idempotency_key) {
      await this.send(() =>
        this.doc
          .send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keyItemKey(record.idempotency_key!),
              UpdateExpression: `SET owner_status = :status, #record = :record${this.retentionDays ? ', expires_at = :expires' : ''}`,
              ConditionExpression: 'owner_run_id = :run',
              ExpressionAttributeNames: { '#record': 'record' },
              ExpressionAttributeValues: {
                ':status': record.status,
                ':run': record.run_id,
                ':record': record,
                ...(this.retentionDays ? { ':expires': this.expiry(record).expires_at } : {}),
              },
            }),
          )
          .catch((error: Error) => {
            if (error.name !== 'ConditionalCheckFailedException') throw error; // another run holds it now
          }),
      );
    }
  }

  async latest(service: string): Promise<RunExecutionMetadata | undefined> {
    return (await this.list({ service, limit: 1 })).items[0];
  }

  async get(runId: string): Promise<RunExecutionMetadata | undefined> {
    const page = await this.send(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: INDEXES.byRunId,
          KeyConditionExpression: 'run_id = :id',
          ExpressionAttributeValues: { ':id': runId },
        }),
      ),
    );
    const item = page.Items?.find(isRunItem);
    return item ? recordOf(item) : undefined;
  }

  private async getByKey(service: string, runId: string): Promise<RunExecutionMetadata | undefined> {
    const result = await this.send(() =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { service, run_id: runId }, ConsistentRead: true }),
      ),
    );
    return result.Item ? recordOf(result.Item) : undefined;
  }

  /**
   * Newest first. A service's runs are one query on its partition (a status is a filter there);
   * all runs, or all runs of a status, are read from the 16 shards of their index and merged.
   */
  async list(query: ListRunsQuery): Promise<RunPage> {
    if (query.service) {
      const values: Record<string, unknown> = { ':service': query.service };
      const base: QueryCommandInput = { TableName: this.tableName, KeyConditionExpression: 'service = :service' };
      if (query.status) {
        base.FilterExpression = '(#status = :status OR begins_with(#status, :sharded))';
        base.ExpressionAttributeNames = { '#status': 'status' };
        values[':status'] = query.status;
        values[':sharded'] = `${query.status}#`;
      }
      return pageFrom(await this.newest(base, values, query), query.limit, recordOf);
    }
    const [index, attribute] = query.status
      ? ([INDEXES.byStatus, 'status'] as const)
      : ([INDEXES.all, 'entity'] as const);
    const prefix = query.status ? `${query.status}#` : 'run#';
    const shards = await Promise.all(
      ALL_SHARDS.map((shard) =>
        this.newest(
          { TableName: this.tableName, IndexName: index, KeyConditionExpression: '#pk = :pk' },
          { ':pk': prefix + shard },
          query,
          { '#pk': attribute },
        ),
      ),
    );
    const merged = shards.flat().sort((a, b) => String(b.run_id).localeCompare(String(a.run_id)));
    return pageFrom(merged.slice(0, query.limit + 1), query.limit, recordOf);
  }

  /** Up to `limit + 1` items of one partition, newest first, after the cursor. */
  private async newest(
    base: QueryCommandInput,
    values: Record<string, unknown>,
    query: ListRunsQuery,
    names: Record<string, string> = {},
  ): Promise<Record<string, unknown>[]> {
    let keyCondition = base.KeyConditionExpression!;
    if (query.cursor) {
      keyCondition += ' AND run_id < :cursor';
      values = { ...values, ':cursor': query.cursor };
    }
    const attributeNames = { ...base.ExpressionAttributeNames, ...names };
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.send(() =>
        this.doc.send(
          new QueryCommand({
            ...base,
            ScanIndexForward: false,
            KeyConditionExpression: keyCondition,
            ExpressionAttributeValues: values,
            ExpressionAttributeNames: Object.keys(attributeNames).length ? attributeNames : undefined,
            Limit: query.limit + 1 - items.length,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (items.length <= query.limit && startKey);
    return items;
  }

  /**
   * Remove finished runs started before `query.before`: the 16 shards of the all-runs index are
   * read up to the cutoff's run id, and each run is deleted conditionally on the status read (a
   * RUNNING run never goes, nor one that changed meanwhile), with its idempotency key's item when
   * the key still names it. Runs of a table not yet migrated (`pipeline storage migrate`) are not
   * in the shards and stay.
   */
  async prune(query: PruneQuery): Promise<PruneResult> {
    const floor = runIdFloor(Date.parse(query.before));
    let removed = 0;
    for (const shard of ALL_SHARDS) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.send(() =>
          this.doc.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: INDEXES.all,
              KeyConditionExpression: 'entity = :entity AND run_id < :floor',
              ExpressionAttributeValues: { ':entity': `run#${shard}`, ':floor': floor },
              ExclusiveStartKey: startKey,
            }),
          ),
        );
        for (const item of page.Items ?? []) {
          const record = recordOf(item);
          if (!prunable(record, query)) continue;
          if (query.dryRun || (await this.deleteRun(record, String(item.status)))) removed += 1;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return { removed };
  }

  /** Delete a run's item if its status is still `storedStatus`, and its key's item if that names it. */
  private async deleteRun(record: RunExecutionMetadata, storedStatus: string): Promise<boolean> {
    try {
      await this.send(() =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { service: record.service, run_id: record.run_id },
            ConditionExpression: '#status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': storedStatus },
          }),
        ),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
    if (record.idempotency_key) {
      await this.send(() =>
        this.doc
          .send(
            new DeleteCommand({
              TableName: this.tableName,
              Key: keyItemKey(record.idempotency_key!),
              ConditionExpression: 'owner_run_id = :run',
              ExpressionAttributeValues: { ':run': record.run_id },
            }),
          )
          .catch((error: Error) => {
            if (error.name !== 'ConditionalCheckFailedException') throw error; // a newer run holds the key
          }),
      );
    }
    return true;
  }

  async ping(): Promise<void> {
    await this.list({ limit: 1 });
  }

  async close(): Promise<void> {
    this.doc.destroy();
    this.client.destroy();
  }

  /** Run a call, turning a missing table into an error that names the fix. */
  private async send<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') {
        throw new RunStoreError(
          this.description,
          `the table "${this.tableName}" does not exist`,
          'Create it with `pipeline storage init` (or set PIPELINE_DYNAMODB_TABLE to an existing table).',
          { cause: error },
        );
      }
      throw error;
    }
  }
}
