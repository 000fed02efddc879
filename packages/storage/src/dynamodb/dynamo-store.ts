import { DynamoDBClient, type AttributeValue, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
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
  isTerminal,
  keySatisfies,
  runIdFloor,
  runSatisfies,
  scopedKey,
  systemClock,
  type Clock,
  type KeyCondition,
  type KeyItem,
  type KeyPatch,
  type ListRunsQuery,
  type PruneQuery,
  type PruneResult,
  type RunCondition,
  type RunExecutionMetadata,
  type RunKey,
  type RunPage,
  type RunPatch,
  type RunStatus,
  type RunStore,
  type StoreErrorKind,
  type Written,
} from '@pipeline-invocation/core';
import { pageFrom } from '../query';
import { classifyStoreError } from '../store-errors';
import { compileKeyCondition, compileRunCondition, renderCondition, type CompiledCondition } from './conditions';
import { ALL_SHARDS, isRunItem, keyItemKey, keyItemOf, keyOf, recordOf, runItem, serviceStatusOf } from './layout';
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
  /** The clock a finished key's `expires_at` is counted from (default: the system clock). */
  clock?: Clock;
}

/** Time limits of one DynamoDB attempt (ms): to connect, and for the whole request. */
export const DYNAMODB_ATTEMPT_TIMEOUTS = Object.freeze({ connectionTimeout: 3000, requestTimeout: 10_000 });

type Item = Record<string, unknown>;

/**
 * Run records in DynamoDB (layout 3, see `layout.ts` and the package README's access patterns).
 * Table key: `service` + `run_id` (ULID), so records never collide and a service's latest run is
 * one query on its partition. A run item holds the record's own fields unchanged; its index
 * values live in attributes of their own (`entity`, `status_shard`, `service_status`).
 *
 * The store offers core's primitives and no lifecycle rules: each condition it is given (core's
 * `RunCondition` / `KeyCondition`) is compiled to one `ConditionExpression`, so every write is
 * one conditional request or nothing. A refused write asks for the item that stopped it
 * (`ReturnValuesOnConditionCheckFailure`); servers that do not return it (dynalite) cost one
 * consistent read instead. No transactions (DynamoDB-compatible test servers lack them).
 */
export class DynamoRunStore implements RunStore {
  readonly description: string;
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
    private readonly retentionDays?: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.description = `dynamodb:${tableName}`;
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /**
   * A store whose client takes region, credentials and endpoint from the standard AWS chain
   * (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, profiles, roles).
   *
   * The client makes **one attempt** per call, each bounded in time
   * ({@link DYNAMODB_ATTEMPT_TIMEOUTS}): retries are core's one retry policy (the lifecycle
   * wraps each store call; transient errors only, as {@link classifyError} says), not the SDK's
   * 4 attempts stacked under it, which made a store outage cost 12 attempts per write.
   */
  static fromEnvironment(options: DynamoRunStoreOptions): DynamoRunStore {
    const client = new DynamoDBClient({
      maxAttempts: 1,
      requestHandler: { ...DYNAMODB_ATTEMPT_TIMEOUTS },
      ...options.client,
    });
    return new DynamoRunStore(client, options.tableName, options.retentionDays, options.clock);
  }

  // --- run items -------------------------------------------------------------------------------

  async putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const key = runKeyOf(record);
    const condition = compileRunCondition(when, record.run_id);
    if (condition.kind === 'never') return { written: false, current: await this.readRun(key) };
    try {
      const result = await this.send(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...runItem(record), ...this.runExpiry(record) },
            ...expressionOf(condition),
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return {
        written: true,
        current: record,
        ...(result.Attributes ? { previous: recordOf(result.Attributes) } : {}),
      };
    } catch (error) {
      const found = await this.foundAfterRefusal(error, key);
      return { written: false, current: found ? recordOf(found) : undefined };
    }
  }

  async updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const key = runKeyOf(run);
    const condition = compileRunCondition(when, run.run_id);
    // only the fields a patch may set: none of them is an index value, so the index attributes stay right
    const set = RUN_PATCH_FIELDS.filter((field) => patch[field] !== undefined).map(
      (field) => [field, patch[field]] as const,
    );
    return this.conditionalUpdate(key, set, [], condition, 'run_id', {
      read: () => this.readRun(key),
      parse: recordOf,
      satisfies: (current) => runSatisfies(current, when),
    });
  }

  async readRun(run: RunKey): Promise<RunExecutionMetadata | undefined> {
    const item = await this.read(runKeyOf(run));
    return item ? recordOf(item) : undefined;
  }

  // --- key items -------------------------------------------------------------------------------

  async putKey(item: KeyItem, when: KeyCondition): Promise<Written<KeyItem>> {
    const key = keyItemKey(item.key);
    const condition = compileKeyCondition(when);
    if (condition.kind === 'never') return { written: false, current: await this.readKey(item.key) };
    try {
      const result = await this.send(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...keyItemOf(item), ...this.keyExpiry(item.status) },
            ...expressionOf(condition),
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { written: true, current: item, ...(result.Attributes ? { previous: keyOf(result.Attributes) } : {}) };
    } catch (error) {
      const found = await this.foundAfterRefusal(error, key);
      return { written: false, current: found ? keyOf(found) : undefined };
    }
  }

  async updateKey(key: string, patch: KeyPatch, when: KeyCondition): Promise<Written<KeyItem>> {
    const itemKey = keyItemKey(key);
    const condition = compileKeyCondition(when);
    const set: [string, unknown][] = [];
    const remove: string[] = [];
    if (patch.status !== undefined) {
      set.push(['owner_status', patch.status]);
      const expiry = this.keyExpiry(patch.status).expires_at;
      if (expiry !== undefined) set.push(['expires_at', expiry]);
      else if (!isTerminal(patch.status)) remove.push('expires_at');
    }
    if (patch.heartbeat_at !== undefined) set.push(['heartbeat_at', patch.heartbeat_at]);
    return this.conditionalUpdate(itemKey, set, remove, condition, 'service', {
      read: () => this.readKey(key),
      parse: keyOf,
      satisfies: (current) => keySatisfies(current, when),
    });
  }

  /**
   * The one conditional update of a run's or a key's item: sets `set`, removes `remove`, only on
   * an existing item (`keyAttribute` present) that satisfies `condition`; returns the item after,
   * or the one that stopped it. With nothing to write (no clause can hold, or an empty patch) the
   * answer is the item as it is.
   */
  private async conditionalUpdate<T>(
    key: Item,
    set: readonly (readonly [string, unknown])[],
    remove: readonly string[],
    condition: CompiledCondition,
    keyAttribute: string,
    item: { read: () => Promise<T | undefined>; parse: (raw: Item) => T; satisfies: (current: T) => boolean },
  ): Promise<Written<T>> {
    if (condition.kind === 'never' || set.length === 0) {
      const current = await item.read();
      return current && set.length === 0 && item.satisfies(current)
        ? { written: true, current }
        : { written: false, current };
    }
    try {
      const result = await this.send(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            ...updateOf(set, remove, condition, keyAttribute),
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { written: true, current: item.parse(result.Attributes!) };
    } catch (error) {
      const found = await this.foundAfterRefusal(error, key);
      return { written: false, current: found ? item.parse(found) : undefined };
    }
  }

  async deleteKey(key: string, when: KeyCondition): Promise<boolean> {
    const condition = compileKeyCondition(when);
    if (condition.kind === 'never') return false;
    try {
      const result = await this.send(() =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: keyItemKey(key),
            ...expressionOf(condition),
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return result.Attributes !== undefined;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false;
    }
  }

  async readKey(key: string): Promise<KeyItem | undefined> {
    const item = await this.read(keyItemKey(key));
    return item ? keyOf(item) : undefined;
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyStoreError(error);
  }

  /** One item by its primary key, read consistently. */
  private async read(key: Item): Promise<Item | undefined> {
    const result = await this.send(() =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return result.Item;
  }

  /**
   * The item that stopped a conditional write: from the refusal itself where the server returns
   * it, else read consistently (`undefined` when there is none). Any other error is rethrown.
   */
  private async foundAfterRefusal(error: unknown, key: Item): Promise<Item | undefined> {
    if (!isConditionFailure(error)) throw error;
    const returned = (error as { Item?: Record<string, AttributeValue> }).Item;
    return returned ? unmarshall(returned) : this.read(key);
  }

  /** `expires_at` of a finished run (epoch seconds, counted from its end), when a retention is set. */
  private runExpiry(record: RunExecutionMetadata): { expires_at?: number } {
    if (!this.retentionDays || !record.status || !isTerminal(record.status)) return {};
    const ended = Date.parse(record.ended_at ?? record.timestamp);
    return { expires_at: Math.floor(ended / 1000) + this.retentionDays * 86_400 };
  }

  /** `expires_at` of a key told its run ended (counted from now), when a retention is set. */
  private keyExpiry(status: RunStatus): { expires_at?: number } {
    if (!this.retentionDays || !isTerminal(status)) return {};
    return { expires_at: Math.floor(this.clock.now() / 1000) + this.retentionDays * 86_400 };
  }

  // --- queries ---------------------------------------------------------------------------------

  async latest(service: string): Promise<RunExecutionMetadata | undefined> {
    return (await this.list({ service, limit: 1 })).items[0];
  }

  async get(runId: string): Promise<RunExecutionMetadata | undefined> {
    const page = await this.query({
      TableName: this.tableName,
      IndexName: INDEXES.byRunId,
      KeyConditionExpression: 'run_id = :id',
      ExpressionAttributeValues: { ':id': runId },
    });
    const item = page.Items?.find(isRunItem);
    return item ? recordOf(item) : undefined;
  }

  /**
   * Newest first, each filter served by an index (see the README's access patterns): a service's
   * runs are its table partition; a service's runs of one status are one partition of
   * `service_status-run_id-index`; all runs, or all runs of a status, are read from the 16
   * shards of `entity-run_id-index` or `status_shard-run_id-index` and merged.
   */
  async list(query: ListRunsQuery): Promise<RunPage> {
    if (query.service && query.status) {
      const base = {
        TableName: this.tableName,
        IndexName: INDEXES.byServiceStatus,
        KeyConditionExpression: 'service_status = :pk',
      };
      const items = await this.newest(base, { ':pk': serviceStatusOf(query.service, query.status) }, query);
      return pageFrom(items, query.limit, recordOf);
    }
    if (query.service) {
      const base = { TableName: this.tableName, KeyConditionExpression: 'service = :pk' };
      return pageFrom(await this.newest(base, { ':pk': query.service }, query), query.limit, recordOf);
    }
    const [index, attribute, prefix] = query.status
      ? ([INDEXES.byStatus, 'status_shard', `${query.status}#`] as const)
      : ([INDEXES.all, 'entity', 'run#'] as const);
    const shards = await Promise.all(
      ALL_SHARDS.map((shard) =>
        this.newest(
          { TableName: this.tableName, IndexName: index, KeyConditionExpression: `${attribute} = :pk` },
          { ':pk': prefix + shard },
          query,
        ),
      ),
    );
    const merged = shards.flat().sort((a, b) => String(b.run_id).localeCompare(String(a.run_id)));
    return pageFrom(merged.slice(0, query.limit + 1), query.limit, recordOf);
  }

  /** Up to `limit + 1` items of one partition, newest first, after the cursor. */
  private async newest(base: QueryCommandInput, values: Item, query: ListRunsQuery): Promise<Item[]> {
    let keyCondition = base.KeyConditionExpression!;
    if (query.cursor) {
      keyCondition += ' AND run_id < :cursor';
      values = { ...values, ':cursor': query.cursor };
    }
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.query({
        ...base,
        ScanIndexForward: false,
        KeyConditionExpression: keyCondition,
        ExpressionAttributeValues: values,
        Limit: query.limit + 1 - items.length,
        ExclusiveStartKey: startKey,
      });
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (items.length <= query.limit && startKey);
    return items;
  }

  /**
   * Remove the runs started before `query.before` whose status is in `query.statuses`: the 16
   * shards of the all-runs index are read up to the cutoff's run id, and each run is deleted
   * conditionally on the status read (a run that changed meanwhile stays), with its idempotency
   * key's item when the key still names it (the key runs again instead of replaying a record
   * that is gone). Runs of a table not yet migrated (`pipeline storage migrate`) are not in the
   * shards and stay.
   */
  async prune(query: PruneQuery & { readonly statuses: readonly RunStatus[] }): Promise<PruneResult> {
    const floor = runIdFloor(Date.parse(query.before));
    const statuses = new Set<string>(query.statuses);
    let removed = 0;
    for (const shard of ALL_SHARDS) {
      let startKey: Item | undefined;
      do {
        const page = await this.query({
          TableName: this.tableName,
          IndexName: INDEXES.all,
          KeyConditionExpression: 'entity = :entity AND run_id < :floor',
          ExpressionAttributeValues: { ':entity': `run#${shard}`, ':floor': floor },
          ExclusiveStartKey: startKey,
        });
        for (const item of page.Items ?? []) {
          const record = recordOf(item);
          if (!statuses.has(record.status)) continue;
          if (query.dryRun || (await this.deleteRun(record, item.status))) removed += 1;
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return { removed };
  }

  /** Delete a run's item if its status is still `storedStatus` (as read), then its key's item if that names the run. */
  private async deleteRun(record: RunExecutionMetadata, storedStatus: unknown): Promise<boolean> {
    try {
      await this.send(() =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: runKeyOf(record),
            ConditionExpression: '#status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': storedStatus },
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    if (record.idempotency_key) {
      await this.deleteKey(scopedKey(record.service, record.idempotency_key), [{ ownerIs: record.run_id }]);
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

  /**
   * One query; an index the table lacks (a table made by an earlier layout, not yet migrated) is
   * an error that names the fix. (The message is only matched to word the error: its kind comes
   * from its cause, a `ValidationException`.)
   */
  private async query(input: QueryCommandInput) {
    try {
      return await this.send(() => this.doc.send(new QueryCommand(input)));
    } catch (error) {
      if (
        input.IndexName &&
        (error as Error).name === 'ValidationException' &&
        /index/i.test((error as Error).message)
      ) {
        throw new RunStoreError(
          this.description,
          `the table "${this.tableName}" has no index "${input.IndexName}" (it was made by an earlier version)`,
          'Bring it to this version with `pipeline storage migrate`.',
          { cause: error },
        );
      }
      throw error;
    }
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

/** The fields of a {@link RunPatch}. */
const RUN_PATCH_FIELDS = ['heartbeat_at', 'cancel_requested_at'] as const satisfies readonly (keyof RunPatch)[];

/** The primary key of a run's item. */
const runKeyOf = (run: RunKey): RunKey => ({ service: run.service, run_id: run.run_id });

const isConditionFailure = (error: unknown): boolean =>
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/** A compiled condition as request fields (DynamoDB refuses empty name or value maps). */
function expressionOf(
  condition: Extract<CompiledCondition, { kind: 'expression' }>,
  extra?: { names: Item; values: Item; guard: string },
) {
  const names = { ...condition.names, ...extra?.names } as Record<string, string>;
  const values = { ...condition.values, ...extra?.values };
  return {
    ConditionExpression: renderCondition(condition, extra?.guard),
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

/**
 * An update that sets `set` and removes `remove`, only on an item that exists (`keyAttribute`
 * present: an update must never create a partial item) and satisfies `condition`.
 */
function updateOf(
  set: readonly (readonly [string, unknown])[],
  remove: readonly string[],
  condition: Extract<CompiledCondition, { kind: 'expression' }>,
  keyAttribute: string,
) {
  const names: Item = {};
  const values: Item = {};
  const assignments = set.map(([attribute, value], i) => {
    names[`#u${i}`] = attribute;
    values[`:u${i}`] = value;
    return `#u${i} = :u${i}`;
  });
  const removals = remove.map((attribute, i) => {
    names[`#r${i}`] = attribute;
    return `#r${i}`;
  });
  const update = [
    assignments.length ? `SET ${assignments.join(', ')}` : '',
    removals.length ? `REMOVE ${removals.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    UpdateExpression: update,
    ...expressionOf(condition, { names, values, guard: `attribute_exists(${keyAttribute})` }),
  };
}
