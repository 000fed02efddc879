import { systemClock, type Clock } from '../clock';
import { IdempotencyKeyMismatchError, RunConflictError, RunStoreError } from '../errors';
import type { RunExecutionMetadata, RunStatus } from '../models/run-record';
import { DEFAULT_RETRY_POLICY, retry, type RetryOptions, type RetryPolicy } from '../retry';
import type { KeyItem, PruneQuery, PruneResult, RunCondition, RunKey, RunStore, Written } from '../store';

/**
 * The run lifecycle, in one place. Every transition of a run record is a function here, built
 * from the atomic primitives a {@link RunStore} offers (conditional put / update / read of a
 * run's item and of an idempotency key's item); stores hold no rules of their own, and the
 * executor, heartbeat, worker, schedules, outbox and CLI call these functions, nothing else.
 *
 * ```
 *             begin (key free, or its holder finished without success, or stale)
 *   (none) ──────────────────────────────▶ RUNNING ──heartbeat──┐
 *                                            │  ▲_______________│
 *      finish (first terminal record wins) ──┼──▶ SUCCEEDED | FAILED | TIMED_OUT | CANCELLED
 *      markCrashed (heartbeat stale only) ───┴──▶ CRASHED ──supersede (the run's own final record)──▶ …
 * ```
 *
 * - An idempotency key belongs to a service (`<service>#<key>`). It replays only a SUCCEEDED
 *   run with the same payload hash; a FAILED, TIMED_OUT, CANCELLED or CRASHED holder lets the key
 *   run again; a RUNNING holder whose heartbeat is stale is taken over inside the same
 *   conditional write, and then marked CRASHED.
 * - Nothing replaces a terminal record, except the run's own final record replacing a CRASHED
 *   presumption about it (its heartbeats failed while it was alive; e.g. an outbox replay).
 *   When that record is a success and its key was taken over meanwhile, the key comes back to it
 *   from a holder that has not succeeded, so the key replays the success from then on.
 * - Every write is idempotent for its own run: a retried write whose answer was lost succeeds.
 */

/** The statuses a run ends in. */
export const TERMINAL_STATUSES: readonly RunStatus[] = Object.freeze([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'CANCELLED',
  'CRASHED',
]);

/** Terminal statuses that free an idempotency key (everything but SUCCEEDED). */
const RERUNNABLE: readonly RunStatus[] = Object.freeze(['FAILED', 'TIMED_OUT', 'CANCELLED', 'CRASHED']);

/**
 * What a new run with an idempotency key does about the key's holder, by the holder's status and
 * payload hash: `rerun` (the holder ended without success: the key runs again), `replay` (it
 * SUCCEEDED with the same payload: answer with its record), `wait` (it is RUNNING with the same
 * payload: the new run is refused while the holder is alive) or `mismatch` (the holder, RUNNING
 * or SUCCEEDED, had another payload). Staleness is not judged here: a stale RUNNING holder is
 * taken over by {@link RunLifecycle.begin}. A queue deciding whether a queued job still stands
 * for a key asks the same question.
 */
export type KeyVerdict = 'rerun' | 'replay' | 'wait' | 'mismatch';

/** The rule of {@link KeyVerdict}: what a run with `payloadHash` does about the key's `holder`. */
export function keyVerdict(
  holder: { readonly status: RunStatus; readonly payload_hash?: string },
  payloadHash: string | undefined,
): KeyVerdict {
  if (RERUNNABLE.includes(holder.status)) return 'rerun';
  if (holder.payload_hash !== undefined && payloadHash !== undefined && holder.payload_hash !== payloadHash) {
    return 'mismatch';
  }
  return holder.status === 'SUCCEEDED' ? 'replay' : 'wait';
}

/** Defaults of the run lifecycle (ms). */
export const LIFECYCLE_DEFAULTS = Object.freeze({ heartbeatMs: 10_000, staleAfterMs: 60_000, cancelGraceMs: 10_000 });

/** Whether `status` is terminal. */
export function isTerminal(status: RunStatus): boolean {
  return status !== 'RUNNING';
}

/** The key's item name: an idempotency key is scoped by its service. */
export function scopedKey(service: string, idempotencyKey: string): string {
  return `${service}#${idempotencyKey}`;
}

/** The item of `record`'s idempotency key, held by it, with its status. */
function keyItemOf(record: RunExecutionMetadata): KeyItem {
  return {
    key: scopedKey(record.service, record.idempotency_key!),
    service: record.service,
    run_id: record.run_id,
    status: record.status,
    heartbeat_at: record.heartbeat_at ?? record.started_at,
    ...(record.payload_hash ? { payload_hash: record.payload_hash } : {}),
  };
}

/** The statuses `pipeline runs prune` may remove: never RUNNING; with `keepFailed`, SUCCEEDED only. */
export function prunableStatuses(keepFailed = false): readonly RunStatus[] {
  return keepFailed ? ['SUCCEEDED'] : TERMINAL_STATUSES;
}

/** When a run's heartbeat was last renewed (ms since the epoch). */
export function heartbeatMsOf(record: Pick<RunExecutionMetadata, 'heartbeat_at' | 'started_at'>): number {
  return Date.parse(record.heartbeat_at ?? record.started_at);
}

/** Options of {@link RunLifecycle}. */
export interface RunLifecycleOptions {
  readonly clock?: Clock;
  /** A RUNNING run whose heartbeat is older than this is taken for dead (ms; default 60 000). */
  readonly staleAfterMs?: number;
  /** Retries of each store call (transient errors only, as the store classifies them). */
  readonly retry?: RetryPolicy;
}

/** Outcome of {@link RunLifecycle.begin}. */
export type BeginOutcome =
  /** The RUNNING record is written: run the handler. `tookOverFrom`: a stale holder of the key, marked CRASHED. */
  | { readonly started: true; readonly tookOverFrom?: string }
  /** The key's SUCCEEDED run, for the same payload: return it (marked `replayed`), run nothing. */
  | { readonly started: false; readonly replayed: RunExecutionMetadata };

/** Outcome of {@link RunLifecycle.finish}. */
export type FinishOutcome =
  | { readonly ok: true; readonly record: RunExecutionMetadata; readonly superseded?: RunExecutionMetadata }
  /** The run already has another terminal record (the first one written wins): it is returned. */
  | { readonly ok: false; readonly existing: RunExecutionMetadata };

/** Outcome of {@link RunLifecycle.markCrashed}. */
export type CrashOutcome =
  | { readonly crashed: true; readonly record: RunExecutionMetadata }
  /** `fresh`: its heartbeat is recent (it is alive); `ended`: it has a terminal record; `missing`: no such run. */
  | { readonly crashed: false; readonly reason: 'fresh' | 'ended' | 'missing'; readonly record?: RunExecutionMetadata };

/** Why a run is presumed dead, as its CRASHED record says. */
export interface CrashReason {
  /** `error.name` of the record, e.g. `RunCrashed`, `WorkerCrashed`. */
  readonly name: string;
  /** The record's body. */
  readonly body: string;
}

/** The run lifecycle over one store. See the module's description. */
export class RunLifecycle {
  readonly clock: Clock;
  readonly staleAfterMs: number;
  /** The retry options of every store call (one object, not one per call). */
  private readonly retryOptions: RetryOptions;

  constructor(
    readonly store: RunStore,
    options: RunLifecycleOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.staleAfterMs = options.staleAfterMs ?? LIFECYCLE_DEFAULTS.staleAfterMs;
    this.retryOptions = {
      policy: options.retry ?? DEFAULT_RETRY_POLICY,
      clock: this.clock,
      classify: (error) => ({ retryable: this.store.classifyError(error) === 'transient' }),
    };
  }

  /** Whether `record` is RUNNING with a heartbeat older than the staleness limit (its process died). */
  isStale(
    record: Pick<RunExecutionMetadata, 'status' | 'heartbeat_at' | 'started_at'>,
    nowMs = this.clock.now(),
  ): boolean {
    return record.status === 'RUNNING' && nowMs >= this.staleAtMs(record);
  }

  /** When a RUNNING run's heartbeat becomes stale, unless renewed (ms since the epoch): its last heartbeat plus the staleness limit. */
  staleAtMs(record: Pick<RunExecutionMetadata, 'heartbeat_at' | 'started_at'>): number {
    return heartbeatMsOf(record) + this.staleAfterMs;
  }

  /**
   * Write `record`'s RUNNING record, taking its idempotency key first (scoped by service).
   *
   * @throws RunConflictError naming the run that holds the key (RUNNING, heartbeat fresh).
   * @throws IdempotencyKeyMismatchError when the holder (RUNNING or SUCCEEDED) had another payload.
   */
  async begin(record: RunExecutionMetadata): Promise<BeginOutcome> {
    if (record.status !== 'RUNNING')
      throw new TypeError(`begin() takes a RUNNING record; run ${record.run_id} is ${record.status}`);
    let tookOverFrom: string | undefined;
    if (record.idempotency_key) {
      const claim = await this.claimKey(record);
      if ('replayed' in claim) return { started: false, replayed: claim.replayed };
      tookOverFrom = claim.tookOverFrom?.run_id;
      if (claim.tookOverFrom) {
        // Before this run's record exists: the holder's record is marked CRASHED only while its
        // heartbeat is stale. A holder that renewed it meanwhile (between our read and our key
        // write) is alive: it gets its key back and this begin is refused, so two runs never
        // hold one (service, key).
        const crash = await this.markCrashed(
          { service: record.service, run_id: claim.tookOverFrom.run_id },
          {
            name: 'RunCrashed',
            body: `The run stopped without finishing (no heartbeat); its idempotency key was taken over by run ${record.run_id}.`,
          },
        ).catch(() => undefined); // the store is failing: the key is ours; the old record is told when it can be
        if (crash && !crash.crashed && crash.reason === 'fresh') {
          await this.retrying(() => this.store.putKey(claim.tookOverFrom!, [{ ownerIs: record.run_id }]));
          const ageMs = this.clock.now() - heartbeatMsOf(crash.record!);
          throw new RunConflictError(record.idempotency_key, claim.tookOverFrom.run_id, ageMs, {
            service: record.service,
          });
        }
      }
    }
    let put: Written<RunExecutionMetadata>;
    try {
      put = await this.retrying(() => this.store.putRun(record, [{ exists: false }]));
    } catch (error) {
      await this.abandon(record);
      throw error;
    }
    // run ids are fresh: an item already there is this run's own begin, retried after a lost answer
    if (!put.written && put.current?.run_id !== record.run_id) {
      throw new TypeError(`run id ${record.run_id} is already taken`);
    }
    return tookOverFrom ? { started: true, tookOverFrom } : { started: true };
  }

  /**
   * The RUNNING write failed (the handler will not run), but it may have landed with its answer
   * lost. One more look: no record, the key is freed at once; a RUNNING one is ended FAILED and
   * then the key is freed. When even that fails, the key stays held: it goes stale, and the next
   * begin with it takes it over and marks this run CRASHED, so no record stays RUNNING for ever.
   */
  private async abandon(record: RunExecutionMetadata): Promise<void> {
    try {
      const current = await this.store.readRun(record);
      if (current?.status === 'RUNNING') {
        const nowMs = this.clock.now();
        const body = 'The run was not started: the store failed while its RUNNING record was being written.';
        const failed: RunExecutionMetadata = {
          ...current,
          status: 'FAILED',
          status_code: 503,
          body,
          error: { name: 'MetadataWriteError', message: body, retryable: true },
          ended_at: new Date(nowMs).toISOString(),
          duration_ms: Math.max(0, nowMs - Date.parse(current.started_at)),
        };
        if (!(await this.store.putRun(failed, [{ statusIn: ['RUNNING'] }])).written) return;
      } else if (current) return; // it ended: its own finish settled the key
      if (record.idempotency_key) await this.releaseKey(record, 'FAILED');
    } catch {
      // the store is still failing: the key goes stale and is taken over (see above)
    }
  }

  /** Take the key of `record`, or find the SUCCEEDED run to replay; throws for a live holder. */
  private async claimKey(
    record: RunExecutionMetadata,
  ): Promise<{ tookOverFrom?: KeyItem } | { replayed: RunExecutionMetadata }> {
    const item = keyItemOf(record);
    const key = item.key;
    let lastHolder: KeyItem | undefined;
    /** The last holder met, for the error when the attempts run out. */
    let seen: KeyItem | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cutoff = this.cutoff();
      const put = await this.retrying(() =>
        this.store.putKey(item, [
          { exists: false },
          { ownerIs: record.run_id }, // a retried claim whose answer was lost
          { statusIn: RERUNNABLE },
          // A stale RUNNING holder (its run record read and found stale below), or one whose run was
          // pruned or whose key release was lost, is taken over from exactly that holder. Not with a
          // clause for any stale holder: if that write's answer were lost, the retry would find the
          // key already ours and never learn which run it took the key from, leaving it RUNNING for
          // ever (found by the lifecycle model test: a race, 90 s, a lost answer, a begin).
          ...(lastHolder
            ? [
                {
                  ownerIs: lastHolder.run_id,
                  statusIn: [lastHolder.status],
                  ...(lastHolder.status === 'RUNNING' ? { heartbeatBefore: cutoff } : {}),
                },
              ]
            : []),
        ]),
      );
      if (put.written) {
        const previous = put.previous;
        if (previous && previous.run_id !== record.run_id) {
          return previous.status === 'RUNNING' ? { tookOverFrom: previous } : {};
        }
        // the key was free, or this claim landed on an earlier try whose answer was lost: when that
        // try was the takeover of a stale holder, it was conditioned on exactly `lastHolder`
        return !previous || lastHolder?.status !== 'RUNNING' ? {} : { tookOverFrom: lastHolder };
      }
      const holder = put.current;
      if (!holder) continue; // gone between the write and the read: try again
      seen = holder;
      const mismatch = keyVerdict(holder, record.payload_hash) === 'mismatch';
      const run = await this.retrying(() => this.store.readRun({ service: holder.service, run_id: holder.run_id }));
      if (holder.status === 'SUCCEEDED' && run?.status === 'SUCCEEDED') {
        if (mismatch) throw new IdempotencyKeyMismatchError(record.idempotency_key!, holder.run_id, record.run_id);
        return { replayed: { ...run, replayed: true } };
      }
      if (holder.status === 'RUNNING' && (run === undefined || run.status === 'RUNNING')) {
        // alive while its heartbeat (its key's, and its record's once written) is fresh; a stale
        // holder is dead whatever its payload was, and is taken over on the next attempt
        const beatMs = Math.max(Date.parse(holder.heartbeat_at), run ? heartbeatMsOf(run) : Number.NEGATIVE_INFINITY);
        const ageMs = this.clock.now() - beatMs;
        if (ageMs < this.staleAfterMs) {
          if (mismatch) throw new IdempotencyKeyMismatchError(record.idempotency_key!, holder.run_id, record.run_id);
          throw new RunConflictError(record.idempotency_key!, holder.run_id, ageMs, { service: record.service });
        }
      }
      if (run && run.status !== holder.status && isTerminal(run.status)) {
        // the holder ended but its key was not told (that write failed): tell it, then decide again
        await this.retrying(() =>
          this.store.updateKey(key, { status: run.status }, [{ ownerIs: holder.run_id, statusIn: [holder.status] }]),
        );
        lastHolder = undefined;
        continue;
      }
      // The holder's record is gone (pruned) or its key and record disagree in a way only a
      // takeover settles: take it from exactly this holder on the next attempt.
      lastHolder = holder;
    }
    throw new RunConflictError(record.idempotency_key!, (lastHolder ?? seen)?.run_id ?? '(none found)', undefined, {
      service: record.service,
    });
  }

  /**
   * Renew a RUNNING run's heartbeat (and its key's) and return the record as stored, so the
   * caller sees a `cancel_requested_at` or a terminal status another process wrote; `undefined`
   * for an unknown run.
   */
  async heartbeat(
    run: Pick<RunExecutionMetadata, 'service' | 'run_id' | 'idempotency_key'>,
  ): Promise<RunExecutionMetadata | undefined> {
    const at = new Date(this.clock.now()).toISOString();
    const result = await this.retrying(() =>
      this.store.updateRun(run, { heartbeat_at: at }, [{ statusIn: ['RUNNING'] }]),
    );
    if (result.written && run.idempotency_key) {
      await this.retrying(() =>
        this.store.updateKey(scopedKey(run.service, run.idempotency_key!), { heartbeat_at: at }, [
          { ownerIs: run.run_id, statusIn: ['RUNNING'] },
        ]),
      );
    }
    return result.current;
  }

  /**
   * Ask a RUNNING run to stop (`pipeline cancel`): sets `cancel_requested_at` (the first request's
   * time is kept); its executor sees it at its next heartbeat. Returns the record as stored.
   */
  async requestCancel(runId: string): Promise<RunExecutionMetadata | undefined> {
    const found = await this.retrying(() => this.store.get(runId));
    if (found?.status !== 'RUNNING') return found;
    const at = new Date(this.clock.now()).toISOString();
    const result = await this.retrying(() =>
      this.store.updateRun(found, { cancel_requested_at: at }, [{ statusIn: ['RUNNING'], cancelRequested: false }]),
    );
    return result.current;
  }

  /**
   * Write a run's terminal record: over its RUNNING record, or where there is none (an outbox
   * replay). The first terminal record wins: over another one nothing is written and that one is
   * returned; the same record again (a retried write) is `ok`; and the run's own final record
   * replaces a CRASHED presumption about it (`superseded`). Frees or settles its key.
   */
  async finish(record: RunExecutionMetadata): Promise<FinishOutcome> {
    if (!isTerminal(record.status)) {
      throw new TypeError(`finish() takes a terminal record; run ${record.run_id} is RUNNING (use begin)`);
    }
    let when: RunCondition = [{ exists: false }, { statusIn: ['RUNNING'] }];
    let superseded: RunExecutionMetadata | undefined;
    for (let attempt = 0; ; attempt++) {
      if (attempt === 4) {
        throw new RunStoreError(this.store.description, `run ${record.run_id} is contended`, 'Retry the write.');
      }
      const put = await this.retrying(() => this.store.putRun(record, when));
      if (put.written) break;
      const current = put.current ?? (await this.retrying(() => this.store.readRun(record)));
      if (!current) continue; // removed between the write and the read: write again
      if (current.status === record.status && current.ended_at === record.ended_at) break; // our own write, retried
      if (current.status !== 'CRASHED' || record.status === 'CRASHED') return { ok: false, existing: current };
      // supersede: the run's own outcome replaces the presumption that it crashed (exactly that one)
      superseded = current;
      when = [{ statusIn: ['CRASHED'], ...(current.ended_at ? { endedAt: current.ended_at } : {}) }];
    }
    if (record.idempotency_key) await this.settleKey(record);
    return superseded ? { ok: true, record, superseded } : { ok: true, record };
  }

  /**
   * Tell the key how its run ended. A SUCCEEDED run whose key was taken over meanwhile (it was
   * presumed crashed, and this record supersedes that presumption) takes the key back from a
   * holder that has not succeeded: the key then replays this success, so the next begin with it
   * runs nothing, whatever that holder's run comes to. A holder that SUCCEEDED keeps the key.
   */
  private async settleKey(record: RunExecutionMetadata): Promise<void> {
    let told = await this.releaseKey(record, record.status);
    if (told.written || record.status !== 'SUCCEEDED') return;
    const item = keyItemOf(record);
    // taken from exactly the holder read (it may be replaced meanwhile: then look again)
    for (let attempt = 0; attempt < 3 && told.current && told.current.status !== 'SUCCEEDED'; attempt++) {
      const holder: KeyItem = told.current;
      if (holder.run_id === record.run_id) return;
      // the key's status may lag its run's (a release whose write failed): a run that SUCCEEDED keeps it
      const run = await this.retrying(() => this.store.readRun({ service: holder.service, run_id: holder.run_id }));
      if (run?.status === 'SUCCEEDED') return;
      told = await this.retrying(() =>
        this.store.putKey(item, [{ ownerIs: holder.run_id, statusIn: [holder.status] }]),
      );
      if (told.written) return;
    }
  }

  /**
   * Mark a RUNNING run CRASHED, only when its heartbeat is stale (anyone may: a later run with its
   * key, a queue's re-attempt of its job). A run whose heartbeat is fresh is alive and is left
   * alone (`fresh`).
   */
  async markCrashed(run: RunKey, reason: CrashReason): Promise<CrashOutcome> {
    const current = await this.retrying(() => this.store.readRun(run));
    if (!current) return { crashed: false, reason: 'missing' };
    if (isTerminal(current.status)) return { crashed: false, reason: 'ended', record: current };
    const nowMs = this.clock.now();
    if (!this.isStale(current, nowMs)) return { crashed: false, reason: 'fresh', record: current };
    const ended = new Date(nowMs).toISOString();
    const crashed: RunExecutionMetadata = {
      ...current,
      status: 'CRASHED',
      status_code: 500,
      body: reason.body,
      error: {
        name: reason.name,
        message: `no heartbeat for ${Math.round((nowMs - heartbeatMsOf(current)) / 1000)} s`,
      },
      ended_at: ended,
      duration_ms: Math.max(0, nowMs - Date.parse(current.started_at)),
    };
    const put = await this.retrying(() =>
      this.store.putRun(crashed, [{ statusIn: ['RUNNING'], heartbeatBefore: this.cutoff(nowMs) }]),
    );
    const landed = put.written || (put.current?.status === 'CRASHED' && put.current.ended_at === ended);
    if (!landed) {
      const now = put.current;
      if (!now) return { crashed: false, reason: 'missing' };
      return { crashed: false, reason: isTerminal(now.status) ? 'ended' : 'fresh', record: now };
    }
    if (crashed.idempotency_key) await this.releaseKey(crashed, 'CRASHED');
    return { crashed: true, record: crashed };
  }

  /**
   * Mark CRASHED every RUNNING run of `service` whose heartbeat is stale: a run without an
   * idempotency key has no later run with its key to notice that its process died. The executor
   * calls it before a service's runs, at most once per staleness period per process. Returns how
   * many were marked.
   */
  async sweepStale(service: string, reason: CrashReason): Promise<number> {
    let marked = 0;
    for await (const run of this.running(service)) {
      if (this.isStale(run) && (await this.markCrashed(run, reason)).crashed) marked += 1;
    }
    return marked;
  }

  /** Every RUNNING run of `service`, newest first, read page by page (live and stale alike). */
  async *running(service: string): AsyncGenerator<RunExecutionMetadata, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.retrying(() => this.store.list({ service, status: 'RUNNING', limit: 100, cursor }));
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /**
   * Remove the finished runs started before `query.before` (`pipeline runs prune`): never a
   * RUNNING run; with `keepFailed`, only SUCCEEDED ones. Their keys are free again.
   *
   * @throws TypeError when the store cannot prune.
   */
  async prune(query: PruneQuery): Promise<PruneResult> {
    if (!this.store.prune) throw new TypeError(`${this.store.description} cannot be pruned`);
    return this.retrying(() => this.store.prune!({ ...query, statuses: prunableStatuses(query.keepFailed) }));
  }

  /** Tell the run's key how its run ended (only while the key is still the run's); the answer says whose it is otherwise. */
  private releaseKey(record: RunExecutionMetadata, status: RunStatus): Promise<Written<KeyItem>> {
    return this.retrying(() =>
      this.store.updateKey(scopedKey(record.service, record.idempotency_key!), { status }, [
        { ownerIs: record.run_id },
      ]),
    );
  }

  /**
   * The ISO time before which a heartbeat is stale. Stores test `heartbeat_at < cutoff`
   * (strictly), so the cutoff is one ms later than `now - staleAfterMs`: the conditional write
   * then agrees with {@link isStale} (an age of exactly `staleAfterMs` is stale).
   */
  private cutoff(nowMs = this.clock.now()): string {
    return new Date(nowMs - this.staleAfterMs + 1).toISOString();
  }

  /**
   * One store call under the lifecycle's retry policy; transient errors, as the store classifies
   * them, are retried. Every transition's calls go through it, and so may a caller's own reads of
   * the store (the executor's `latest`).
   */
  retrying<T>(fn: () => Promise<T>): Promise<T> {
    return retry(fn, this.retryOptions);
  }
}
