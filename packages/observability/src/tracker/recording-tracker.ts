import type { RunExecutionMetadata, TrackedRunStart, Tracker } from '@pipeline-invocation/core';

/** One call a {@link RecordingTracker} saw. */
export type TrackerCall =
  | { type: 'start'; run: TrackedRunStart }
  | { type: 'log'; runId: string; metrics: Record<string, number>; step: number }
  | { type: 'finish'; record: RunExecutionMetadata };

/** A tracker that remembers every call, for tests (the invoker's testing kit uses it). */
export class RecordingTracker implements Tracker {
  readonly calls: TrackerCall[] = [];

  async start(run: TrackedRunStart): Promise<void> {
    this.calls.push({ type: 'start', run: structuredClone(run) });
  }
  log(runId: string, metrics: Record<string, number>, step: number): void {
    this.calls.push({ type: 'log', runId, metrics: { ...metrics }, step });
  }
  async finish(record: RunExecutionMetadata): Promise<void> {
    this.calls.push({ type: 'finish', record: structuredClone(record) });
  }
  async close(): Promise<void> {}

  /** The final records it was given, in order. */
  get finished(): RunExecutionMetadata[] {
    return this.calls.flatMap((c) => (c.type === 'finish' ? [c.record] : []));
  }
}
