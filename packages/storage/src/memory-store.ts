import {
  keySatisfies,
  runIdFloor,
  onStatusOnly,
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
 * as with a real store (and a long-lived worker's history takes less memory). A run's status is
 * kept beside its text, so a condition on the status alone (a finish's) is evaluated without
 * parsing, and the record a write answers with is parsed only when the caller reads it. `latest`
 * uses an index, so its cost does not grow with the history. Each primitive runs to its end without
 * awaiting, so it is atomic.
 */
export class MemoryRunStore implements RunStore {
  readonly description = 'memory';
  private readonly runs = new RunMap();
  private readonly keys = new JsonMap<KeyItem>();
  /** Newest run id per service. */
  private readonly newest = new Map<string, string>();

  async putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const json = this.runs.text(record.run_id);
    if (json !== undefined && onStatusOnly(when)) {
      // a condition on the status alone (a finish: no item, or RUNNING) is evaluated on the status
      // kept beside the text; the record is parsed only for a caller who reads the answer
      const status = { status: this.runs.status(record.run_id) } as RunExecutionMetadata;
      if (!runSatisfies(status, when)) return answer(false, json);
    } else {
      const current = json === undefined ? undefined : (JSON.parse(json) as RunExecutionMetadata);
      if (!runSatisfies(current, when)) return { written: false, current };
    }
    return answer(true, this.put(record));
  }

  async updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    const current = this.runs.get(run.run_id);
    if (!current || !runSatisfies(current, when)) return { written: false, current };
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

  private put(record: RunExecutionMetadata): string {
    const json = this.runs.set(record.run_id, record);
    const newest = this.newest.get(record.service);
    if (newest === undefined || record.run_id > newest) this.newest.set(record.service, record.run_id);
    return json;
  }
}

/** The answer of a conditional write on a stored run: `current` is parsed from `json` when first read. */
function answer(done: boolean, json: string): Written<RunExecutionMetadata> {
  let parsed: RunExecutionMetadata | undefined;
  return {
    written: done,
    get current(): RunExecutionMetadata {
      return (parsed ??= JSON.parse(json) as RunExecutionMetadata);
    },
  } as Written<RunExecutionMetadata>;
}

/** Values by id, each kept as its JSON text: every read parses a fresh copy. */
class JsonMap<T> {
  protected readonly json = new Map<string, string>();
  has(id: string): boolean {
    return this.json.has(id);
  }
  get(id: string): T | undefined {
    const json = this.json.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }
  /** Store a copy of `value`; returns its text. */
  set(id: string, value: T): string {
    const json = JSON.stringify(value);
    this.json.set(id, json);
    return json;
  }
  delete(id: string): void {
    this.json.delete(id);
  }
  *values(): IterableIterator<T> {
    for (const json of this.json.values()) yield JSON.parse(json) as T;
  }
  *entries(): IterableIterator<[string, T]> {
    for (const [id, json] of this.json) yield [id, JSON.parse(json) as T];
  }
}

/** Runs by id, each kept as its JSON text, with its status beside it: every read parses a fresh copy. */
class RunMap extends JsonMap<RunExecutionMetadata> {
  private readonly statuses = new Map<string, RunStatus>();
  /** The stored text of a run, if any. */
  text(id: string): string | undefined {
    return this.json.get(id);
  }
  /** The status of a stored run. */
  status(id: string): RunStatus | undefined {
    return this.statuses.get(id);
  }
  override set(id: string, value: RunExecutionMetadata): string {
    this.statuses.set(id, value.status);
    return super.set(id, value);
  }
  override delete(id: string): void {
    this.statuses.delete(id);
    super.delete(id);
  }
}
