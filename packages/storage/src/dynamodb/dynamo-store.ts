import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  RunStoreError,
  type BeginResult,
  type FinishResult,
  type ListRunsQuery,
  type RunExecutionMetadata,
  type RunKey,
  type RunPage,
  type RunStore,
} from '@pipeline-invocation/core';
import { BLOCKING_STATUSES, finishDecision, pageFrom } from '../query';
import { INDEXES } from './table';

/** Options of {@link DynamoRunStore.fromEnvironment}. */
export interface DynamoRunStoreOptions {
  tableName: string;
  /** Extra client configuration (region, endpoint, credentials); the standard AWS chain fills the rest. */
  client?: DynamoDBClientConfig;
}

/** Time limits of one DynamoDB attempt (ms): to connect, and for the whole request. */
export const DYNAMODB_ATTEMPT_TIMEOUTS = Object.freeze({ connectionTimeout: 3000, requestTimeout: 10_000 });

/** Partition-key prefix of idempotency lock items (kept apart from service partitions). */
const LOCK_PREFIX = '#idempotency#';
const LOCK_SORT_KEY = '#lock';

type Item = RunExecutionMetadata & { entity: 'run' };

/**
 * Run records in DynamoDB. Key: `service` + `run_id` (ULID), so records never collide.
 * Idempotency uses a lock item per key written with a conditional put (no transactions, which
 * DynamoDB-compatible test servers lack). Transient errors and throttling are retried by the
 * SDK's standard retry strategy.
 */
export class DynamoRunStore implements RunStore {
  readonly description: string;

  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
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
    return new DynamoRunStore(client, options.tableName);
  }

  async begin(record: RunExecutionMetadata): Promise<BeginResult> {
    const key = record.idempotency_key;
    if (key) {
      const existing = await this.lock(key, record);
      if (existing) return { ok: false, existing };
    }
    // run_id is a fresh ULID: an item already under this key can only be this run's own begin,
    // retried after its answer was lost (by the SDK or by the invoker), so it is not a conflict.
    await this.putIf(this.item(record), 'attribute_not_exists(run_id)', undefined);
    return { ok: true };
  }

  /** Take the lock of `key` for `record`, or return the run that holds it. */
  private async lock(key: string, record: RunExecutionMetadata): Promise<RunExecutionMetadata | undefined> {
    const lockKey = { service: LOCK_PREFIX + key, run_id: LOCK_SORT_KEY };
    const item = {
      ...lockKey,
      owner_run_id: record.run_id,
      owner_status: record.status,
      owner_service: record.service,
      owner_started_at: record.started_at,
    };
    // Take the lock when it is free, its run no longer blocks the key, or it is already ours (a
    // retried begin whose first lock write landed).
    if (
      await this.putIf(
        item,
        'attribute_not_exists(service) OR NOT owner_status IN (:running, :succeeded) OR owner_run_id = :me',
        { ':running': 'RUNNING', ':succeeded': 'SUCCEEDED', ':me': record.run_id },
      )
    ) {
      return undefined;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const lock = await this.send(() =>
        this.doc.send(new GetCommand({ TableName: this.tableName, Key: lockKey, ConsistentRead: true })),
      );
      const owner = lock.Item as
        { owner_run_id: string; owner_service: string; owner_started_at?: string; owner_status: string } | undefined;
      if (!owner) {
        if (await this.putIf(item, 'attribute_not_exists(service)', undefined)) return undefined;
        continue;
      }
      if (owner.owner_run_id === record.run_id) return undefined;
      const existing = await this.getByKey(owner.owner_service, owner.owner_run_id);
      if (existing && BLOCKING_STATUSES.has(existing.status)) return existing;
      if (existing) {
        // Its run ended but the lock was not updated (that write failed): take it over.
        if (await this.putIf(item, 'owner_run_id = :owner', { ':owner': owner.owner_run_id })) return undefined;
        continue;
      }
      // The owner took the lock but its run record is not there: still being written, or its process
      // died in between. Report it with the owner's start time, so a caller can tell a fresh run
      // from a dead one (the invoker treats an old RUNNING run as crashed and finishes it).
      return {
        ...record,
        service: owner.owner_service,
        run_id: owner.owner_run_id,
        status: 'RUNNING',
        started_at: owner.owner_started_at ?? record.started_at,
        timestamp: owner.owner_started_at ?? record.started_at,
      };
    }
    throw new RunStoreError(this.description, `idempotency key "${key}" is contended`, 'Retry the invocation.');
  }

  /** A conditional put; false when the condition failed. */
  private async putIf(
    item: Record<string, unknown>,
    condition: string,
    values: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    try {
      await this.send(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: condition,
            ExpressionAttributeValues: values,
            ...(condition.includes('#status') ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
          }),
        ),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async finish(record: RunExecutionMetadata): Promise<FinishResult> {
    for (let attempt = 0; ; attempt++) {
      const written = await this.putIf(this.item(record), 'attribute_not_exists(run_id) OR #status = :running', {
        ':running': 'RUNNING',
      });
      if (written) break;
      const decision = finishDecision(await this.getByKey(record.service, record.run_id), record);
      if (decision !== 'write') {
        if (decision.ok) await this.releaseLock(record);
        return decision;
      }
      if (attempt === 2) {
        throw new RunStoreError(this.description, `run ${record.run_id} is contended`, 'Retry the write.');
      }
    }
    await this.releaseLock(record);
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
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':at': at, ':running': 'RUNNING' },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return result.Attributes ? strip(result.Attributes as Item) : undefined;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      return this.getByKey(run.service, run.run_id); // ended, or no such run
    }
  }

  /** Record on the idempotency lock that its run ended, so the key is free (or replays). */
  private async releaseLock(record: RunExecutionMetadata): Promise<void> {
    if (record.idempotency_key) {
      await this.send(() =>
        this.doc
          .send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: { service: LOCK_PREFIX + record.idempotency_key, run_id: LOCK_SORT_KEY },
              UpdateExpression: 'SET owner_status = :status',
              ConditionExpression: 'owner_run_id = :run',
              ExpressionAttributeValues: { ':status': record.status, ':run': record.run_id },
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
    const item = page.Items?.find((i) => i.entity === 'run');
    return item ? strip(item as Item) : undefined;
  }

  private async getByKey(service: string, runId: string): Promise<RunExecutionMetadata | undefined> {
    const result = await this.send(() =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { service, run_id: runId }, ConsistentRead: true }),
      ),
    );
    return result.Item ? strip(result.Item as Item) : undefined;
  }

  /** Newest first; follows `LastEvaluatedKey` until the page is full (filters can thin a page). */
  async list(query: ListRunsQuery): Promise<RunPage> {
    const base: QueryCommandInput = { TableName: this.tableName, ScanIndexForward: false };
    const values: Record<string, unknown> = {};
    let keyCondition: string;
    if (query.service) {
      keyCondition = 'service = :service';
      values[':service'] = query.service;
      if (query.status) {
        base.FilterExpression = '#status = :status';
        base.ExpressionAttributeNames = { '#status': 'status' };
        values[':status'] = query.status;
      }
    } else if (query.status) {
      base.IndexName = INDEXES.byStatus;
      keyCondition = '#status = :status';
      base.ExpressionAttributeNames = { '#status': 'status' };
      values[':status'] = query.status;
    } else {
      base.IndexName = INDEXES.all;
      keyCondition = 'entity = :entity';
      values[':entity'] = 'run';
    }
    if (query.cursor) {
      keyCondition += ' AND run_id < :cursor';
      values[':cursor'] = query.cursor;
    }
    const items: RunExecutionMetadata[] = [];
    let startKey: Record<string, unknown> | undefined;
    let more = true;
    while (items.length <= query.limit && more) {
      const page = await this.send(() =>
        this.doc.send(
          new QueryCommand({
            ...base,
            KeyConditionExpression: keyCondition,
            ExpressionAttributeValues: values,
            Limit: query.limit + 1 - items.length,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(page.Items ?? []).map((i) => strip(i as Item)));
      startKey = page.LastEvaluatedKey;
      more = startKey !== undefined;
    }
    return pageFrom(items, query.limit, (record) => record);
  }

  async ping(): Promise<void> {
    await this.list({ limit: 1 });
  }

  async close(): Promise<void> {
    this.doc.destroy();
    this.client.destroy();
  }

  private item(record: RunExecutionMetadata): Item {
    return { ...record, entity: 'run' };
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

function strip(item: Item): RunExecutionMetadata {
  const { entity: _entity, ...record } = item;
  return record as RunExecutionMetadata;
}
