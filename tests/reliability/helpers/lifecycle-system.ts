import { Agent } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  KeyCondition,
  KeyItem,
  KeyPatch,
  ListRunsQuery,
  RunCondition,
  RunExecutionMetadata,
  RunKey,
  RunPage,
  RunPatch,
  RunStore,
  StoreErrorKind,
  Written,
} from '@pipeline-invocation/core';
import { MemoryRunStore, SqliteRunStore } from '@pipeline-invocation/storage';
import { DynamoRunStore, createRunTable } from '@pipeline-invocation/storage/dynamodb';
import type { LocalDynamo } from '../../../packages/storage/tests/helpers/dynalite';
import { startFaultProxy, type FaultProxy } from '../../../packages/storage/tests/helpers/tcp-proxy';

/**
 * The stores the lifecycle model runs against, each with the faults the model injects:
 * - an outage (`down`/`up`): SQLite: another connection holds `BEGIN EXCLUSIVE` (real
 *   SQLITE_BUSY; reads go on under WAL); DynamoDB: the loopback TCP proxy in front of dynalite
 *   refuses connections (reads fail too); memory: the test's wrapper at the RunStore boundary
 *   fails every write (an in-memory store has no real fault to inject);
 * - an ambiguous write (`loseNextWriteAnswer`): the next write lands but its answer is lost.
 *   DynamoDB: the proxy forwards the request and drops the answer (real); memory and SQLite:
 *   the test's wrapper at the RunStore boundary applies the write, then throws a transient
 *   error (a lost answer cannot be produced inside one process otherwise).
 */
export interface StoreUnderTest {
  /** What the lifecycle writes through (faults apply). */
  readonly store: RunStore;
  /** A fault-free path to the same data, for the invariants' reads. */
  readonly raw: RunStore;
  /** Whether reads still work during an outage (SQLite's WAL, the memory wrapper's write-only outage). */
  readonly readsWorkWhenDown: boolean;
  down(): void;
  up(): void;
  /** Lose the answer of the next write (or, with `skip`, of a later one). */
  loseNextWriteAnswer(skip?: number): void;
  /** Answers lost so far. */
  readonly answersLost: number;
  close(): Promise<void>;
}

export type StoreKind = 'memory' | 'sqlite' | 'dynamodb';

const transient = (what: string) =>
  Object.assign(new Error(`${what} (fault injected by the test)`), { code: 'ECONNRESET' });

/**
 * A RunStore that forwards to `inner`, failing writes during an outage and losing the answer of
 * one armed write (test only: see {@link StoreUnderTest}).
 */
export class LostAnswerStore implements RunStore {
  writesDown = false;
  armed = false;
  /** Writes to let through before the armed one. */
  skip = 0;
  lost = 0;
  constructor(readonly inner: RunStore) {}
  get description() {
    return this.inner.description;
  }
  private async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writesDown) throw transient('connect ECONNREFUSED');
    const result = await fn();
    if (this.armed && this.skip > 0) this.skip -= 1;
    else if (this.armed) {
      this.armed = false;
      this.lost += 1;
      throw transient('socket hang up after the write landed');
    }
    return result;
  }
  putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    return this.write(() => this.inner.putRun(record, when));
  }
  updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    return this.write(() => this.inner.updateRun(run, patch, when));
  }
  putKey(item: KeyItem, when: KeyCondition): Promise<Written<KeyItem>> {
    return this.write(() => this.inner.putKey(item, when));
  }
  updateKey(key: string, patch: KeyPatch, when: KeyCondition): Promise<Written<KeyItem>> {
    return this.write(() => this.inner.updateKey(key, patch, when));
  }
  deleteKey(key: string, when: KeyCondition): Promise<boolean> {
    return this.write(() => this.inner.deleteKey(key, when));
  }
  readRun(run: RunKey) {
    return this.inner.readRun(run);
  }
  readKey(key: string) {
    return this.inner.readKey(key);
  }
  classifyError(error: unknown): StoreErrorKind {
    return this.inner.classifyError(error);
  }
  latest(service: string) {
    return this.inner.latest(service);
  }
  get(runId: string) {
    return this.inner.get(runId);
  }
  list(query: ListRunsQuery): Promise<RunPage> {
    return this.inner.list(query);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

let files = 0;
let tables = 0;

/** A fresh, empty store of `kind` with its faults. */
export async function openStoreUnderTest(
  kind: StoreKind,
  env: { dir: string; dynamo?: LocalDynamo },
): Promise<StoreUnderTest> {
  if (kind === 'memory') {
    const wrapper = new LostAnswerStore(new MemoryRunStore());
    return {
      store: wrapper,
      raw: wrapper.inner,
      readsWorkWhenDown: true,
      down: () => void (wrapper.writesDown = true),
      up: () => void (wrapper.writesDown = false),
      loseNextWriteAnswer: (skip = 0) => void Object.assign(wrapper, { armed: true, skip }),
      get answersLost() {
        return wrapper.lost;
      },
      close: async () => {},
    };
  }
  if (kind === 'sqlite') {
    const file = join(env.dir, `model-${process.pid}-${++files}.db`);
    // busy timeout 0: a locked file answers SQLITE_BUSY at once (the policy retries it), so an
    // outage costs no wall time
    const inner = new SqliteRunStore(file, { busyTimeoutMs: 0 });
    await inner.ping();
    const wrapper = new LostAnswerStore(inner);
    const locker = new Database(file, { timeout: 0 });
    return {
      store: wrapper,
      raw: inner,
      readsWorkWhenDown: true,
      down: () => locker.exec('BEGIN EXCLUSIVE'),
      up: () => {
        if (locker.inTransaction) locker.exec('COMMIT');
      },
      loseNextWriteAnswer: (skip = 0) => void Object.assign(wrapper, { armed: true, skip }),
      get answersLost() {
        return wrapper.lost;
      },
      close: async () => {
        if (locker.inTransaction) locker.exec('COMMIT');
        locker.close();
        await inner.close();
      },
    };
  }
  const dynamo = env.dynamo!;
  const tableName = `model_${++tables}`;
  await createRunTable(dynamo.client(), tableName);
  const proxy: FaultProxy = await startFaultProxy(dynamo.port);
  const store = new DynamoRunStore(
    new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      // one connection per request: an outage meets the very next request
      requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
    }),
    tableName,
  );
  const raw = new DynamoRunStore(dynamo.client(), tableName);
  return {
    store,
    raw,
    readsWorkWhenDown: false,
    down: () => void (proxy.mode = 'refuse'),
    up: () => void (proxy.mode = 'forward'),
    loseNextWriteAnswer: (skip = 0) =>
      proxy.dropAnswersTo(/DynamoDB_20120810\.(PutItem|UpdateItem|DeleteItem)/, 1, skip),
    get answersLost() {
      return proxy.dropped;
    },
    close: async () => {
      await proxy.close();
      await store.close();
      await raw.close();
    },
  };
}
