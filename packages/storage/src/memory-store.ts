import type { BeginResult, ListRunsQuery, RunExecutionMetadata, RunPage, RunStore } from '@pipeline-invocation/core';
import { findIdempotentRun, pageOf } from './query';

/**
 * A run store in memory: for tests (the invoker's testing kit uses it) and for processes
 * that need no history. Records are deep-copied in and out, as a real store would.
 */
export class MemoryRunStore implements RunStore {
  readonly description = 'memory';
  private readonly runs = new Map<string, RunExecutionMetadata>();

  async begin(record: RunExecutionMetadata): Promise<BeginResult> {
    const existing = findIdempotentRun(this.runs.values(), record.idempotency_key);
    if (existing) return { ok: false, existing: structuredClone(existing) };
    this.runs.set(record.run_id, structuredClone(record));
    return { ok: true };
  }

  async finish(record: RunExecutionMetadata): Promise<void> {
    this.runs.set(record.run_id, structuredClone(record));
  }

  async latest(service: string): Promise<RunExecutionMetadata | undefined> {
    return (await this.list({ service, limit: 1 })).items[0];
  }

  async get(runId: string): Promise<RunExecutionMetadata | undefined> {
    const record = this.runs.get(runId);
    return record && structuredClone(record);
  }

  async list(query: ListRunsQuery): Promise<RunPage> {
    return pageOf([...this.runs.values()], query);
  }

  /** Every record, oldest first (tests). */
  all(): RunExecutionMetadata[] {
    return [...this.runs.values()].sort((a, b) => a.run_id.localeCompare(b.run_id)).map((r) => structuredClone(r));
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
