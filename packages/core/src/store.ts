import type { RunExecutionMetadata, RunStatus } from './models/run-record';

/** Outcome of {@link RunStore.begin}. */
export type BeginResult =
  | { readonly ok: true }
  /** A run with the same idempotency key exists and is RUNNING or SUCCEEDED: it is returned, not overwritten. */
  | { readonly ok: false; readonly existing: RunExecutionMetadata };

/** Outcome of {@link RunStore.finish}. */
export type FinishResult =
  | { readonly ok: true }
  /** The run already has another terminal record (the first one written wins): it is returned. */
  | { readonly ok: false; readonly existing: RunExecutionMetadata };

/** What identifies a run in every store (DynamoDB's primary key is both). */
export type RunKey = Pick<RunExecutionMetadata, 'service' | 'run_id'>;

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

/** Counts of one service's finished runs, from a store's rollups ({@link RunStore.serviceStats}). */
export interface ServiceStats {
  readonly service: string;
  /** Finished runs and those that succeeded, over the last 24 hours and 7 days (by start time). */
  readonly last24h: { readonly finished: number; readonly succeeded: number };
  readonly last7d: { readonly finished: number; readonly succeeded: number };
  /** Finished runs per UTC day, the last 7 days, oldest first (`YYYY-MM-DD`). */
  readonly perDay: readonly { readonly day: string; readonly runs: number }[];
  /** Median and 95th percentile duration (ms), when the store computes them (else the dashboard does, from recent runs). */
  readonly p50Ms?: number;
  readonly p95Ms?: number;
}

/** What {@link RunStore.prune} removes: finished runs started before `before`. */
export interface PruneQuery {
  /** ISO time: runs started before it go (their run ids say when). */
  readonly before: string;
  /** Keep the runs that did not succeed (FAILED, TIMED_OUT, CANCELLED, CRASHED). */
  readonly keepFailed?: boolean;
  /** Count what would go, remove nothing. */
  readonly dryRun?: boolean;
}

/** What {@link RunStore.prune} did. */
export interface PruneResult {
  /** Records removed (or, with `dryRun`, that would be). */
  readonly removed: number;
}

/**
 * Where run records live. Implemented in memory (testing), in SQLite and in DynamoDB
 * (`@pipeline-invocation/storage`); one contract test suite runs against all of them.
 */
export interface RunStore {
  /** A short name for diagnostics, e.g. `sqlite:/path/runs.db`. */
  readonly description: string;
  /**
   * Write the RUNNING record. Conditional on the idempotency key: when another run with the same
   * key is RUNNING or SUCCEEDED, nothing is written and that run is returned. Idempotent for its
   * own `run_id`: a retried begin whose first write landed (the answer was lost) is `ok`.
   */
  begin(record: RunExecutionMetadata): Promise<BeginResult>;
  /**
   * Write a terminal record, conditionally: only over the run's RUNNING record (or where there is
   * none, e.g. an outbox replay). The first terminal status written wins: over a terminal record
   * nothing is written and that record is returned, unless it is this same record (a retried
   * write), which is `ok`.
   */
  finish(record: RunExecutionMetadata): Promise<FinishResult>;
  /**
   * Renew a RUNNING run's `heartbeat_at` (ISO time `at`) and return the record as stored, so the
   * executor sees a `cancel_requested_at` or a terminal status another process wrote. A run
   * that is no longer RUNNING is returned unchanged; an unknown run gives `undefined`.
   */
  heartbeat(run: RunKey, at: string): Promise<RunExecutionMetadata | undefined>;
  /**
   * Ask a RUNNING run to stop: sets `cancel_requested_at` (ISO time `at`), which its executor
   * sees at its next heartbeat. Returns the record as stored (unchanged when not RUNNING).
   */
  requestCancel(runId: string, at: string): Promise<RunExecutionMetadata | undefined>;
  /** The newest run of `service` (by run id), or `undefined`. */
  latest(service: string): Promise<RunExecutionMetadata | undefined>;
  /** One run by id, or `undefined`. */
  get(runId: string): Promise<RunExecutionMetadata | undefined>;
  /** Runs, newest first, paged. */
  list(query: ListRunsQuery): Promise<RunPage>;
  /**
   * Remove finished runs started before `query.before` (`pipeline runs prune`); never a RUNNING
   * run. A removed run's idempotency key is free again. Optional: a store without it cannot be
   * pruned.
   */
  prune?(query: PruneQuery): Promise<PruneResult>;
  /**
   * Each service's counts over the last 7 days, at `nowMs`, from rollups the store keeps as runs
   * finish: the cost does not grow with the history (the dashboard's overview). Optional: the
   * dashboard computes them from recent runs for a store without it.
   */
  serviceStats?(nowMs: number): Promise<ServiceStats[]>;
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
  /**
   * Start tracking a run (awaited before the handler starts: a tracker that talks to a service
   * should hand the work to the background and return, as the W&B tracker does).
   */
  start(run: TrackedRunStart): Promise<void>;
  /** Metrics the handler logged during the run. */
  log(runId: string, metrics: Record<string, number>, step: number): void;
  /** The final record (after it is stored); closes the tracked run. May return before the service has it. */
  finish(record: RunExecutionMetadata): Promise<void>;
  /** Wait until the service has every run whose `finish` was called (before a Lambda returns). Optional. */
  flush?(): Promise<void>;
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
