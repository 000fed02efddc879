import type { RunExecutionMetadata, RunStatus } from './models/run-record';

/**
 * One alternative of a condition on a run's item: every field given must hold. A condition is
 * a list of clauses, any of which may hold (`[]` never holds).
 */
export interface RunClause {
  /** `false`: there is no item for the run; `true`: there is one. */
  readonly exists?: boolean;
  /** The item's status is one of these. */
  readonly statusIn?: readonly RunStatus[];
  /** Its `heartbeat_at` (its `started_at` when it has none) is before this ISO time. */
  readonly heartbeatBefore?: string;
  /** Its `cancel_requested_at` is set (`true`) or not (`false`). */
  readonly cancelRequested?: boolean;
  /** Its `ended_at` is exactly this (an optimistic check: the item did not change since read). */
  readonly endedAt?: string;
}
/** A condition on a run's item: any clause holds. */
export type RunCondition = readonly RunClause[];

/** The fields a conditional update of a run may set. */
export interface RunPatch {
  readonly heartbeat_at?: string;
  readonly cancel_requested_at?: string;
}

/**
 * The item of an idempotency key: which run holds it, that run's status as last told, the
 * payload's hash and the holder's heartbeat (so a stale holder is taken over in the same
 * conditional write, as Powertools does with its in-progress expiry).
 */
export interface KeyItem {
  /** The scoped key, `<service>#<idempotency key>` (see `scopedKey`). */
  readonly key: string;
  readonly service: string;
  /** The run that holds the key. */
  readonly run_id: string;
  readonly status: RunStatus;
  readonly payload_hash?: string;
  readonly heartbeat_at: string;
}
/** One alternative of a condition on a key's item (see {@link RunClause}). */
export interface KeyClause {
  readonly exists?: boolean;
  /** The key is held by this run. */
  readonly ownerIs?: string;
  readonly statusIn?: readonly RunStatus[];
  readonly heartbeatBefore?: string;
}
/** A condition on a key's item: any clause holds. */
export type KeyCondition = readonly KeyClause[];
/** The fields a conditional update of a key may set. */
export interface KeyPatch {
  readonly status?: RunStatus;
  readonly heartbeat_at?: string;
}

/** Outcome of a conditional write: written, or the item that stopped it. */
export type Written<T> =
  | { readonly written: true; readonly current: T; readonly previous?: T }
  | { readonly written: false; readonly current: T | undefined };

/** How a store error is to be taken (see {@link RunStore.classifyError}). */
export type StoreErrorKind = 'transient' | 'rejected' | 'unavailable';

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
 *
 * A store offers atomic primitives (conditional put / update / read of a run's item and of an
 * idempotency key's item) and queries; it holds no lifecycle rules. Every transition (begin,
 * heartbeat, requestCancel, finish, markCrashed, supersede) is core's {@link RunLifecycle}.
 */
export interface RunStore {
  /** A short name for diagnostics, e.g. `sqlite:/path/runs.db`. */
  readonly description: string;
  /**
   * Write `record` (the whole run item) when the run's current item satisfies `when`; atomic:
   * one conditional write or nothing. On success `current` is `record`; when the condition
   * failed, `current` is the item that stopped it (or `undefined` when there is none).
   * Stores evaluate conditions; the rules that choose them live in core's lifecycle module.
   */
  putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>>;
  /** Set the fields of `patch` on the run when it satisfies `when`; `current` is the item after (or as found). */
  updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>>;
  /** The run's item by its primary key, read consistently. */
  readRun(run: RunKey): Promise<RunExecutionMetadata | undefined>;
  /**
   * Write an idempotency key's item when the current one satisfies `when`; atomic. On success
   * `previous` is the item it replaced, if any (a stale holder taken over).
   */
  putKey(item: KeyItem, when: KeyCondition): Promise<Written<KeyItem>>;
  /** Set the fields of `patch` on a key's item when it satisfies `when`. */
  updateKey(key: string, patch: KeyPatch, when: KeyCondition): Promise<Written<KeyItem>>;
  /** Delete a key's item when it satisfies `when`; true when deleted. */
  deleteKey(key: string, when: KeyCondition): Promise<boolean>;
  /** A key's item, read consistently. */
  readKey(key: string): Promise<KeyItem | undefined>;
  /**
   * How this store's errors are to be taken: `transient` (another attempt may succeed),
   * `rejected` (this record can never be stored: quarantine it) or `unavailable` (the store is
   * unusable until someone fixes it). Retries decide from this, never from message text.
   */
  classifyError(error: unknown): StoreErrorKind;
  /** The newest run of `service` (by run id), or `undefined`. */
  latest(service: string): Promise<RunExecutionMetadata | undefined>;
  /** One run by id, or `undefined`. */
  get(runId: string): Promise<RunExecutionMetadata | undefined>;
  /** Runs, newest first, paged. */
  list(query: ListRunsQuery): Promise<RunPage>;
  /**
   * Remove the runs started before `query.before` whose status is in `statuses` (the lifecycle
   * module's {@link prunableStatuses}), with the key items they own (the key is free again).
   * Optional: a store without it cannot be pruned.
   */
  prune?(query: PruneQuery & { readonly statuses: readonly RunStatus[] }): Promise<PruneResult>;
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
   * should hand the work to the background and return, as the W&B tracker does). A tracker with
   * nothing to wait for may return nothing: the run then does not wait a turn for it.
   */
  start(run: TrackedRunStart): Promise<void> | void;
  /** Metrics the handler logged during the run. */
  log(runId: string, metrics: Record<string, number>, step: number): void;
  /** The final record (after it is stored); closes the tracked run. May return before the service has it (or nothing). */
  finish(record: RunExecutionMetadata): Promise<void> | void;
  /** Wait until the service has every run whose `finish` was called (before a Lambda returns). Optional. */
  flush?(): Promise<void>;
  /** Flush and release resources (end of process). */
  close(): Promise<void>;
  /**
   * `true` while every call but `close` does nothing (tracking off): the invoker then makes no
   * tracking calls at all, so a run costs what it costs without a tracker. Read at each run. (Not
   * set on {@link noopTracker}, so a tracker spread from it is called.)
   */
  readonly idle?: boolean;
}

/** A tracker that does nothing. */
export const noopTracker: Tracker = {
  start: () => {},
  log: () => {},
  finish: () => {},
  close: async () => {},
};
