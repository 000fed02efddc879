import {
  keySatisfies,
  runIdFloor,
  runSatisfies,
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
import { pageOf } from './query';
import { classifyStoreError } from './store-errors';

/**
 * A run store in memory: for tests (the invoker's testing kit uses it) and for processes
 * that need no history. What goes in and what comes out are copies, as with a real store (a copy
 * made as a JSON round trip would make it: `undefined` fields dropped, dates as ISO text; a
 * record of plain values is copied field by field, a few times faster than `JSON.stringify` and
 * `JSON.parse`), and the record a write answers with is copied only when the caller reads it.
 * `latest` uses an index, so its cost does not grow with the history. Each primitive runs to its
 * end without awaiting, so it is atomic.
 */
export class MemoryRunStore implements RunStore {
  readonly description = 'memory';
  private readonly runs = new CopyMap<RunExecutionMetadata>();
  private readonly keys = new CopyMap<KeyItem>();
  /** Newest run id per service. */
  private readonly newest = new Map<string, string>();

  async putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    // the condition is evaluated on the stored record itself (no copy is made to read it)
    const current = this.runs.stored(record.run_id);
    if (!runSatisfies(current, when)) return answer(false, current);
    return answer(true, this.put(record));
  }

  async updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const current = this.runs.stored(run.run_id);
    if (!current || !runSatisfies(current, when)) return answer(false, current);
    return answer(true, this.runs.set(run.run_id, { ...current, ...patch }));
  }

  async readRun(run: RunKey): Promise<RunExecutionMetadata | undefined> {
    return this.runs.get(run.run_id);
  }

  async putKey(item: KeyItem, when: KeyCondition): Promise<Written<KeyItem>> {
    const previous = this.keys.get(item.key);
    if (!keySatisfies(previous, when)) return { written: false, current: previous };
    this.keys.set(item.key, item);
    return { written: true, current: this.keys.get(item.key)!, ...(previous ? { previous } : {}) };
  }

  async updateKey(key: string, patch: KeyPatch, when: KeyCondition): Promise<Written<KeyItem>> {
    const current = this.keys.get(key);
    if (!current || !keySatisfies(current, when)) return { written: false, current };
    this.keys.set(key, { ...current, ...patch });
    return { written: true, current: this.keys.get(key)! };
  }

  async deleteKey(key: string, when: KeyCondition): Promise<boolean> {
    if (!this.keys.has(key) || !keySatisfies(this.keys.get(key), when)) return false;
    this.keys.delete(key);
    return true;
  }

  async readKey(key: string): Promise<KeyItem | undefined> {
    return this.keys.get(key);
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyStoreError(error);
  }

  async latest(service: string): Promise<RunExecutionMetadata | undefined> {
    const id = this.newest.get(service);
    return id === undefined ? undefined : this.runs.get(id);
  }

  async get(runId: string): Promise<RunExecutionMetadata | undefined> {
    return this.runs.get(runId);
  }

  async list(query: ListRunsQuery): Promise<RunPage> {
    return pageOf([...this.runs.values()], query);
  }

  async prune(query: PruneQuery & { readonly statuses: readonly RunStatus[] }): Promise<PruneResult> {
    const floor = runIdFloor(Date.parse(query.before));
    const doomed = [...this.runs.values()].filter((r) => r.run_id < floor && query.statuses.includes(r.status));
    if (query.dryRun) return { removed: doomed.length };
    const owned = new Set(doomed.map((r) => r.run_id));
    for (const [key, item] of this.keys.entries()) if (owned.has(item.run_id)) this.keys.delete(key);
    for (const record of doomed) {
      this.runs.delete(record.run_id);
      if (this.newest.get(record.service) === record.run_id) {
        const rest = [...this.runs.values()].filter((r) => r.service === record.service).map((r) => r.run_id);
        if (rest.length) this.newest.set(record.service, rest.sort().at(-1)!);
        else this.newest.delete(record.service);
      }
    }
    return { removed: doomed.length };
  }

  /** Every record, oldest first (tests). */
  all(): RunExecutionMetadata[] {
    return [...this.runs.values()].sort((a, b) => a.run_id.localeCompare(b.run_id));
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  private put(record: RunExecutionMetadata): RunExecutionMetadata {
    const stored = this.runs.set(record.run_id, record);
    const newest = this.newest.get(record.service);
    if (newest === undefined || record.run_id > newest) this.newest.set(record.service, record.run_id);
    return stored;
  }
}

/** The answer of a conditional write on a stored run: `current` is a copy of `stored`, made when first read. */
function answer(done: boolean, stored: RunExecutionMetadata | undefined): Written<RunExecutionMetadata> {
  let copy: RunExecutionMetadata | undefined;
  return {
    written: done,
    get current(): RunExecutionMetadata | undefined {
      return stored && (copy ??= copyJson(stored));
    },
  } as Written<RunExecutionMetadata>;
}

/** Values by id, each kept as a private copy: every read returns a fresh copy. */
class CopyMap<T> {
  private readonly values_ = new Map<string, T>();
  has(id: string): boolean {
    return this.values_.has(id);
  }
  get(id: string): T | undefined {
    const value = this.values_.get(id);
    return value === undefined ? undefined : copyJson(value);
  }
  /** The stored value itself, not a copy: for this store's own reads, never handed out. */
  stored(id: string): T | undefined {
    return this.values_.get(id);
  }
  /** Store a copy of `value`; returns the stored value (not to be handed out). */
  set(id: string, value: T): T {
    const copy = copyJson(value);
    this.values_.set(id, copy);
    return copy;
  }
  delete(id: string): void {
    this.values_.delete(id);
  }
  *values(): IterableIterator<T> {
    for (const value of this.values_.values()) yield copyJson(value);
  }
  *entries(): IterableIterator<[string, T]> {
    for (const [id, value] of this.values_) yield [id, copyJson(value)];
  }
}

/**
 * A deep copy of `value` as `JSON.parse(JSON.stringify(value))` makes it. Plain objects, arrays
 * and finite numbers are copied directly; anything else (a date, a class instance, `toJSON`, a
 * non-finite number) goes through the JSON round trip, so the result is the same.
 */
export function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) {
    // JSON writes -0 as 0 and has no NaN or Infinity (null)
    if (typeof value === 'number') return (Number.isFinite(value) ? (value === 0 ? 0 : value) : null) as T;
    return value;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out[i] = item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : copyJson(item);
    }
    return out as T;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return JSON.parse(JSON.stringify(value)) as T;
  const out: Record<string, unknown> = {};
  // own enumerable string keys, in order (what JSON.stringify writes; not an enumerable property
  // someone put on Object.prototype)
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === '__proto__') return JSON.parse(JSON.stringify(value)) as T; // an own property, as JSON.parse makes it
    const item: unknown = (value as Record<string, unknown>)[key];
    // (strings and booleans, most of a record's fields, are kept without a call)
    if (typeof item === 'string' || typeof item === 'boolean') out[key] = item;
    else if (item !== undefined && typeof item !== 'function' && typeof item !== 'symbol') out[key] = copyJson(item);
  }
  return out as T;
}
