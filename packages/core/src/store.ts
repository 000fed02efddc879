import type { RunExecutionMetadata, RunStatus } from './models/run-record';

/** Outcome of {@link RunStore.begin}. */
export type BeginResult =
  | { readonly ok: true }
  /** A run with the same idempotency key exists and is RUNNING or SUCCEEDED: it is returned, not overwritten. */
  | { readonly ok: false; readonly existing: RunExecutionMetadata };

/** A page query over run records, newest first. */
export interface ListRunsQuery {
  service?: string;
  status?: RunStatus;
  /** Page size (1 to 1000). */
  limit: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of run records. */
export interface RunPage {
  readonly items: RunExecutionMetadata[];
  /** Pass back as `cursor` to read the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/**
 * Where run records live. Implemented in memory (testing), in SQLite and in DynamoDB
 * (`@pipeline-invocation/storage`); one contract test suite runs against all of them.
 */
export interface RunStore {
  /** A short name for diagnostics, e.g. `sqlite:/path/runs.db`. */
  readonly description: string;
  /**
   * Write the RUNNING record. Conditional on the idempotency key: when a run with the same key
   * is RUNNING or SUCCEEDED, nothing is written and that run is returned.
   */
  begin(record: RunExecutionMetadata): Promise<BeginResult>;
  /** Write the final record (replaces the RUNNING one with the same `run_id`). Idempotent. */
  finish(record: RunExecutionMetadata): Promise<void>;
  /** The newest run of `service` (by run id), or `undefined`. */
  latest(service: string): Promise<RunExecutionMetadata | undefined>;
  /** One run by id, or `undefined`. */
  get(runId: string): Promise<RunExecutionMetadata | undefined>;
  /** Runs, newest first, paged. */
  list(query: ListRunsQuery): Promise<RunPage>;
  /** Check the store can be reached (doctor). */
  ping(): Promise<void>;
  /** Release connections and file handles. */
  close(): Promise<void>;
}

/** What the tracker is told when a run starts. */
export interface TrackedRunStart {
  readonly record: RunExecutionMetadata;
  /** The validated payload (the tracker redacts secrets before sending it anywhere). */
  readonly payload: Record<string, unknown>;
}

/** Tracking of runs (W&B or nothing). Implementations must never throw into a run. */
export interface Tracker {
  /** Start tracking a run. */
  start(run: TrackedRunStart): Promise<void>;
  /** Metrics the handler logged during the run. */
  log(runId: string, metrics: Record<string, number>, step: number): void;
  /** The final record; closes the tracked run. */
  finish(record: RunExecutionMetadata): Promise<void>;
  /** Flush and release resources (end of process). */
  close(): Promise<void>;
}

/** A tracker that does nothing. */
export const noopTracker: Tracker = {
  start: async () => {},
  log: () => {},
  finish: async () => {},
  close: async () => {},
};
