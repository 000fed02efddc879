import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  DEFAULT_RETRY_POLICY,
  RunExecutionMetadataSchema,
  backoffDelayMs,
  describe,
  systemClock,
  type Clock,
  type RetryPolicy,
  type RunExecutionMetadata,
  type RunLifecycle,
} from '@pipeline-invocation/core';

/** Result of {@link Outbox.flush}. */
export interface FlushResult {
  /** Records written to the store. */
  readonly written: number;
  /** Records that still could not be written (kept in the outbox). */
  readonly remaining: number;
  /** Records or lines moved to the quarantine file by this flush. */
  readonly quarantined: number;
  /** The last error met, when some remain. */
  readonly error?: unknown;
}

/** One line of the quarantine file: what could not be stored, and why. */
export interface QuarantinedEntry {
  /** UTC ISO-8601. */
  readonly quarantined_at: string;
  readonly reason: string;
  /** The record, when the line was one. */
  readonly record?: RunExecutionMetadata;
  /** The raw line, when it was not a record. */
  readonly line?: string;
}

/**
 * Records that could not be written to the run store, kept in a JSON-lines file (each append
 * is fsync'ed) until {@link Outbox.flush} writes them. Replaying is safe to repeat: records are
 * written by `run_id` and a store takes the same terminal record twice as one, so a crash at any
 * point of a flush loses and duplicates nothing. A record the store refuses for good (too large,
 * invalid, or superseded by another terminal record) and a line that is not a record go to the
 * quarantine file (`<file>.quarantine.jsonl`) with the reason, and never block the rest.
 */
export class Outbox {
  /** How long {@link Outbox.due} waits before looking at the files again when this instance added nothing (ms). */
  static readonly RESCAN_MS = 30_000;

  readonly file: string;
  readonly quarantineFile: string;
  private readonly clock: Clock;
  private readonly retryPolicy: RetryPolicy;
  private appendedSinceFlush = false;
  private lastFlushMs = Number.NEGATIVE_INFINITY;
  /** Flushes in a row that left records behind (the store is down): the next waits longer. */
  private failedFlushes = 0;
  private nextRetryMs = Number.NEGATIVE_INFINITY;

  constructor(file: string, options: { clock?: Clock; retry?: RetryPolicy } = {}) {
    this.file = resolve(file);
    this.quarantineFile = `${this.file}.quarantine.jsonl`;
    this.clock = options.clock ?? systemClock;
    this.retryPolicy = options.retry ?? { ...DEFAULT_RETRY_POLICY, maxDelayMs: Outbox.RESCAN_MS };
  }

  /** Append `record`, durably. */
  append(record: RunExecutionMetadata): void {
    appendLine(this.file, JSON.stringify(record));
    this.appendedSinceFlush = true;
  }

  /**
   * Whether a flush is worth its file-system calls and store requests: this instance has
   * appended since its last flush, or it has not looked for {@link Outbox.RESCAN_MS} (records
   * another process left). The first call is always true. After a flush that left records behind
   * (the store is down), not before the retry policy's backoff has passed, growing with each
   * failed flush up to {@link Outbox.RESCAN_MS}: during an outage, runs do not each wait for the
   * store's timeout on the outbox first. An invoker asks before each run, so a long-lived worker
   * does not list a directory per job.
   */
  due(nowMs: number = this.clock.now()): boolean {
    if (nowMs < this.nextRetryMs) return false;
    return this.appendedSinceFlush || nowMs - this.lastFlushMs >= Outbox.RESCAN_MS || this.failedFlushes > 0;
  }

  /** The records waiting, including those of a flush that died before it finished. */
  pending(): RunExecutionMetadata[] {
    return [this.file, ...this.orphans()]
      .flatMap((file) => readLines(file))
      .flatMap((l) => {
        const record = parseRecord(l);
        return typeof record === 'string' ? [] : [record];
      });
  }

  /** What was quarantined, oldest first. */
  quarantined(): QuarantinedEntry[] {
    return readLines(this.quarantineFile).flatMap((line) => {
      try {
        return [JSON.parse(line) as QuarantinedEntry];
      } catch {
        return [{ quarantined_at: '', reason: 'unreadable quarantine line', line }];
      }
    });
  }

  /**
   * Write every waiting record through the lifecycle's `finish` (so a record replaces a CRASHED
   * presumption about its run, and a retried write is one write). The file is first renamed, so
   * two processes never replay the same lines; the claimed files of flushes whose process died
   * are taken up too. Records met after a failure are appended back; refused ones (another
   * terminal record won, or the store can never take them) are quarantined.
   */
  async flush(lifecycle: RunLifecycle): Promise<FlushResult> {
    const store = lifecycle.store;
    this.appendedSinceFlush = false;
    this.lastFlushMs = this.clock.now();
    const claimed = this.claim();
    if (claimed.length === 0) return { written: 0, remaining: 0, quarantined: 0 };
    let written = 0;
    let quarantined = 0;
    let lastError: unknown;
    const failed: RunExecutionMetadata[] = [];
    for (const line of claimed.flatMap((file) => readLines(file))) {
      const record = parseRecord(line);
      if (typeof record === 'string') {
        this.quarantine({ reason: record, line });
        quarantined += 1;
        continue;
      }
      if (lastError !== undefined) {
        failed.push(record);
        continue;
      }
      try {
        const result = await lifecycle.finish(record);
        if (result.ok) written += 1;
        else {
          this.quarantine({
            reason: `run ${record.run_id} already has a terminal record (${result.existing.status}); the first one written stands`,
            record,
          });
          quarantined += 1;
        }
      } catch (error) {
        if (store.classifyError(error) === 'rejected') {
          this.quarantine({ reason: `the store refused it: ${describe(error)}`, record });
          quarantined += 1;
        } else {
          lastError = error;
          failed.push(record);
        }
      }
    }
    // put back, without counting as news: `due` waits for the backoff before trying them again
    for (const record of failed) appendLine(this.file, JSON.stringify(record));
    for (const file of claimed) unlinkSync(file);
    if (lastError === undefined) {
      this.failedFlushes = 0;
      this.nextRetryMs = Number.NEGATIVE_INFINITY;
    } else {
      this.failedFlushes += 1;
      this.nextRetryMs = this.clock.now() + backoffDelayMs(this.retryPolicy, this.failedFlushes);
    }
    return lastError === undefined
      ? { written, remaining: 0, quarantined }
      : { written, remaining: failed.length, quarantined, error: lastError };
  }

  /** Rename the outbox to a file of this flush, and list it with the orphaned ones. */
  private claim(): string[] {
    const orphans = this.orphans();
    const mine = `${this.file}.${process.pid}.${this.clock.now()}.replaying`;
    try {
      renameSync(this.file, mine);
      return [...orphans, mine];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return orphans;
      throw error;
    }
  }

  /** Claimed files (`<file>.<pid>.<ms>.replaying`) whose process is gone. */
  private orphans(): string[] {
    const dir = dirname(this.file);
    if (!existsSync(dir)) return [];
    const prefix = `${basename(this.file)}.`;
    return readdirSync(dir)
      .filter((name) => name.startsWith(prefix) && name.endsWith('.replaying'))
      .filter((name) => !isAlive(Number(name.slice(prefix.length).split('.')[0])))
      .sort()
      .map((name) => join(dir, name));
  }

  private quarantine(entry: Omit<QuarantinedEntry, 'quarantined_at'>): void {
    appendLine(
      this.quarantineFile,
      JSON.stringify({ quarantined_at: new Date(this.clock.now()).toISOString(), ...entry }),
    );
  }
}

function appendLine(file: string, line: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** A record, or the reason the line is not one. */
function parseRecord(line: string): RunExecutionMetadata | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON (${describe(error)}), e.g. a line torn by a crash`;
  }
  const parsed = RunExecutionMetadataSchema.safeParse(value);
  if (!parsed.success)
    return `not a run record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  if (parsed.data.status === 'RUNNING') return 'a RUNNING record (the outbox holds terminal records only)';
  return parsed.data;
}

/** Whether a process with this pid runs on this machine (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
