import type {
  BeginResult,
  FinishResult,
  ListRunsQuery,
  PruneQuery,
  PruneResult,
  RunExecutionMetadata,
  RunKey,
  RunPage,
  RunStore,
} from '@pipeline-invocation/core';
import { findIdempotentRun, finishDecision, pageOf, prunable } from './query';

/**
 * A run store in memory: for tests (the invoker's testing kit uses it) and for processes
 * that need no history. Records are kept as JSON text, so what goes in and comes out are copies,
 * as with a real store (and a long-lived worker's history takes less memory). `latest` and
 * idempotency checks use indexes, so their cost does not grow with the history.
 */
export class MemoryRunStore implements RunStore {
  readonly description = 'memory';
  private readonly runs = new Records();
  /** Newest run id per service. */
  private readonly newest = new Map<string, string>();
  /** Run ids per idempotency key. */
  private readonly byKey = new Map<string, string[]>();

  async begin(record: RunExecutionMetadata): Promise<BeginResult> {
    if (this.runs.has(record.run_id)) return { ok: true }; // a retried begin of this same run
    const key = record.idempotency_key;
    if (key) {
      const existing = findIdempotentRun(
        (this.byKey.get(key) ?? []).map((id) => this.runs.get(id)!),
        key,
      );
      if (existing) return { ok: false, existing: existing };
    }
    this.put(record);
    return { ok: true };
  }

  async finish(record: RunExecutionMetadata): Promise<FinishResult> {
    const decision = finishDecision(this.runs.get(record.run_id), record);
    if (decision !== 'write') return decision; // its record was read from the text: a copy
    this.put(record);
    return { ok: true };
  }

  async heartbeat(run: RunKey, at: string): Promise<RunExecutionMetadata | undefined> {
    return this.patchRunning(run.run_id, (r) => ({ ...r, heartbeat_at: at }));
  }

  async requestCancel(runId: string, at: string): Promise<RunExecutionMetadata | undefined> {
    return this.patchRunning(runId, (r) => ({ ...r, cancel_requested_at: r.cancel_requested_at ?? at }));
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

  async prune(query: PruneQuery): Promise<PruneResult> {
    const doomed = [...this.runs.values()].filter((r) => prunable(r, query));
    if (query.dryRun) return { removed: doomed.length };
    for (const record of doomed) {
      this.runs.delete(record.run_id);
      const key = record.idempotency_key;
      if (key)
        this.byKey.set(
          key,
          (this.byKey.get(key) ?? []).filter((id) => id !== record.run_id),
        );
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

  private patchRunning(
    runId: string,
    patch: (record: RunExecutionMetadata) => RunExecutionMetadata,
  ): RunExecutionMetadata | undefined {
    const record = this.runs.get(runId);
    if (record?.status !== 'RUNNING') return record;
    const patched = patch(record);
    this.runs.set(runId, patched);
    return this.runs.get(runId);
  }

  private put(record: RunExecutionMetadata): void {
    const isNew = !this.runs.has(record.run_id);
    this.runs.set(record.run_id, record);
    const newest = this.newest.get(record.service);
    if (newest === undefined || record.run_id > newest) this.newest.set(record.service, record.run_id);
    const key = record.idempotency_key;
    if (key && isNew) this.byKey.set(key, [...(this.byKey.get(key) ?? []), record.run_id]);
  }
}

/** Records by run id, each kept as its JSON text: every read parses a fresh copy. */
class Records {
  private readonly text = new Map<string, string>();
  has(runId: string): boolean {
    return this.text.has(runId);
  }
  get(runId: string): RunExecutionMetadata | undefined {
    const json = this.text.get(runId);
    return json === undefined ? undefined : (JSON.parse(json) as RunExecutionMetadata);
  }
  set(runId: string, record: RunExecutionMetadata): void {
    this.text.set(runId, JSON.stringify(record));
  }
  delete(runId: string): void {
    this.text.delete(runId);
  }
  *values(): IterableIterator<RunExecutionMetadata> {
    for (const json of this.text.values()) yield JSON.parse(json) as RunExecutionMetadata;
  }
}
