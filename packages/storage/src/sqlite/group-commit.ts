import { setImmediate } from 'node:timers';
import type Database from 'better-sqlite3';

/** One write waiting for its group: its body runs inside a write transaction. */
interface PendingWrite {
  readonly body: () => unknown;
  /** The write on its own: its own transaction (or autocommit statement), as without grouping. */
  readonly alone: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: the writes issued while the event loop is busy with one turn (a worker finishing
 * several runs at once, each run's begin, heartbeat or finish) are committed together in one
 * `BEGIN IMMEDIATE .. COMMIT`, instead of one commit each. Each write still reads its item,
 * evaluates its own condition and writes or not, in the order the writes were issued, so each
 * caller gets the outcome it would get alone (what a write after it in the group sees is what it
 * wrote). Nothing is visible to other connections before the group's commit, and every caller's
 * promise settles only after it.
 *
 * Errors map per write: when the write lock cannot be taken (another process holds it past the
 * busy timeout), every write of the group fails with that error, as each would alone (the
 * lifecycle's retries are asynchronous and bounded, as before); when one write fails inside the
 * group, or the commit does, the group is rolled back and each write runs again on its own, so
 * only the failing one sees its error. A group of one runs on its own at once.
 *
 * The group is flushed at the end of the current event-loop turn (Node's `setImmediate`, taken
 * from `node:timers` so that fake timers in tests do not hold store writes back), and at once by
 * {@link flush} (before the store closes).
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  /** Whether the group's transaction began (its body ran): set inside it. */
  private entered = false;
  /** Groups committed and writes in them (`SqliteRunStore.groupStats`; the bench prints them). */
  readonly stats = { groups: 0, writes: 0 };
  private readonly group: Database.Transaction<(writes: readonly PendingWrite[], results: unknown[]) => void>;

  constructor(
    private readonly db: Database.Database,
    /** Maps an error thrown by SQLite to what the caller sees. */
    private readonly wrap: (error: unknown) => unknown,
    /**
     * Runs the group's writes inside its transaction, and may write what they add up to before
     * the commit (the store's rollup counts: one statement for a group, not one per write).
     */
    around: (writes: () => void) => void = (writes) => writes(),
  ) {
    this.group = db.transaction((writes, results) => {
      this.entered = true;
      around(() => {
        for (const write of writes) results.push(write.body());
      });
    });
  }

  /** Queue a write; its promise settles after its group's commit (or its own, alone). */
  submit<T>(body: () => T, alone: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ body, alone, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit the writes waiting now (synchronously). */
  flush(): void {
    this.scheduled = false;
    const writes = this.pending;
    if (writes.length === 0) return;
    this.pending = [];
    if (writes.length === 1) {
      this.runAlone(writes[0]!);
      return;
    }
    const results: unknown[] = [];
    this.entered = false;
    try {
      this.group.immediate(writes, results);
    } catch (error) {
      if (!this.entered) {
        // BEGIN IMMEDIATE itself failed (the lock stayed taken, the store closed): each write alone would too
        const wrapped = this.wrap(error);
        for (const write of writes) write.reject(wrapped);
        return;
      }
      // one write, or the commit, failed: nothing of the group was kept; each write again on its own
      for (const write of writes) this.runAlone(write);
      return;
    }
    this.stats.groups += 1;
    this.stats.writes += writes.length;
    writes.forEach((write, i) => write.resolve(results[i]));
  }

  private runAlone(write: PendingWrite): void {
    let result: unknown;
    try {
      result = write.alone();
    } catch (error) {
      write.reject(this.wrap(error));
      return;
    }
    this.stats.groups += 1;
    this.stats.writes += 1;
    write.resolve(result);
  }
}
