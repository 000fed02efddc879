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
 * that need no history. Records are kept as JSON text, so what goes in and comes out are copies,
 * as with a real store (and a long-lived worker's history takes less memory). `latest` uses an
 * index, so its cost does not grow with the history. Each primitive runs to its end without
 * awaiting, so it is atomic.
 */
export class MemoryRunStore implements RunStore {
  readonly description = 'memory';
  private readonly runs = new JsonMap<RunExecutionMetadata>();
  private readonly keys = new JsonMap<KeyItem>();
  /** Newest run id per service. */
  private readonly newest = new Map<string, string>();

  async putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const current = this.runs.get(record.run_id);
    if (!runSatisfies(current, when)) return { written: false, current };
    this.put(record);
    return { written: true, current: this.runs.get(record.run_id)! };
  }

  async updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const current = this.runs.get(run.run_id);
    if (!current || !runSatisfies(current, when)) return { written: false, current };
    this.runs.set(run.run_id, { ...current, ...patch });
    return { written: true, current: this.runs.get(run.run_id)! };
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

  private put(record: RunExecutionMetadata): void {
    this.runs.set(record.run_id, record);
    const newest = this.newest.get(record.service);
    if (newest === undefined || record.run_id > newest) this.newest.set(record.service, record.run_id);
  }
}

/** Values by id, each kept as its JSON text: every read parses a fresh copy. */
class JsonMap<T> {
  private readonly text = new Map<string, string>();
  has(id: string): boolean {
    return this.text.has(id);
  }
  get(id: string): T | undefined {
    const json = this.text.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }
  set(id: string, value: T): void {
    this.text.set(id, JSON.stringify(value));
  }
  delete(id: string): void {
    this.text.delete(id);
  }
  *values(): IterableIterator<T> {
    for (const json of this.text.values()) yield JSON.parse(json) as T;
  }
  *entries(): IterableIterator<[string, T]> {
    for (const [id, json] of this.text) yield [id, JSON.parse(json) as T];
  }
}
