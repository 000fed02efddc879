import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import {
  ObservabilityError,
  systemClock,
  type Clock,
  type Logger,
  type RunExecutionMetadata,
  type TrackedRunStart,
  type Tracker,
} from '@pipeline-invocation/core';
import type { TrackingConfig } from '../config';
import type { Redactor } from '../redact';
import { exitCodeOf, finalFields, projectFor, runConfig } from './run-summary';

/** The worker script (plain CommonJS, shipped beside `src/` and `dist/` at the same depth). */
const WORKER_FILE = join(__dirname, '..', '..', 'worker', 'wandb-worker.cjs');

type ThreadMessage =
  | { type: 'started' | 'finished'; runId: string }
  | { type: 'error'; runId?: string; message: string }
  | { type: 'console'; level: string; text: string };

/** A promise settled from outside; its rejection is never "unhandled" (the run's task reads it). */
interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface TrackedRun {
  readonly service: string;
  /** W&B answered the run's init. */
  readonly started: Deferred;
  /** `finish` was called (the executor has the final record). */
  readonly finishing: Deferred;
  /** W&B has the whole run. */
  readonly finished: Deferred;
  /** init, then finish, each under its timeout; never rejects. */
  task?: Promise<void>;
  finishCalled?: boolean;
  /** Dropped by `close` before its finish: ends without a warning. */
  dropped?: boolean;
}

/** Options of {@link WandbTracker}. */
export interface WandbTrackerOptions {
  readonly config: Pick<
    TrackingConfig,
    'project' | 'entity' | 'baseUrl' | 'apiKey' | 'initTimeoutMs' | 'finishTimeoutMs'
  >;
  readonly redactor: Redactor;
  readonly logger: Logger;
  /** The timers of the init and finish timeouts (default: the system clock). */
  readonly clock?: Clock;
}

/**
 * Tracks each run as a W&B run (project = `WANDB_PROJECT` or the service, run name = run id),
 * with `@wandb/sdk` isolated in one worker thread per tracker, made at the first run and reused
 * by every run after it (several at once in a queue worker). Nothing here waits for W&B:
 * `start`, `log` and `finish` pass the run to the thread and return, so W&B's start-up overlaps
 * the handler and its finish overlaps the next run; {@link WandbTracker.flush} and
 * {@link WandbTracker.close} wait until W&B has every finished run. Each run's init and finish
 * are bounded by timeouts. Any failure (crash, hang, 4xx, 5xx) is logged once as an
 * {@link ObservabilityError} with the fix to try, the thread is stopped, W&B is switched off for
 * the rest of the process, and the runs themselves are never affected: no method throws.
 *
 * The thread holds the process open exactly while W&B lacks a run whose `finish` was called
 * (each such run within its timeouts), so a script that simply ends still delivers every finished
 * run and then exits; otherwise the thread never keeps the process alive. Before `process.exit`,
 * await {@link WandbTracker.flush} (or {@link WandbTracker.close}).
 */
export class WandbTracker implements Tracker {
  private readonly runs = new Map<string, TrackedRun>();
  private thread: Worker | undefined;
  private disabledBy: ObservabilityError | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: WandbTrackerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Why W&B was switched off, if it was. */
  get disabledReason(): ObservabilityError | undefined {
    return this.disabledBy;
  }

  async start(start: TrackedRunStart): Promise<void> {
    if (this.disabledBy) return;
    const { config, redactor } = this.options;
    const { record } = start;
    const run: TrackedRun = {
      service: record.service,
      started: deferred(),
      finishing: deferred(),
      finished: deferred(),
    };
    this.runs.set(record.run_id, run);
    this.threadFor().postMessage({
      type: 'start',
      runId: record.run_id,
      init: {
        project: projectFor(record.service, config.project),
        entity: config.entity ?? '',
        id: record.run_id.toLowerCase(),
        name: record.run_id,
        config: runConfig(start, redactor),
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
      },
    });
    run.task = (async () => {
      try {
        await this.within(run.started.promise, config.initTimeoutMs, 'init');
        await run.finishing.promise;
        await this.within(run.finished.promise, config.finishTimeoutMs, 'finish');
      } catch (error) {
        if (!run.dropped) this.fail(record.service, error);
      } finally {
        this.runs.delete(record.run_id);
        this.holdWhileUndelivered();
      }
    })();
  }

  log(runId: string, metrics: Record<string, number>, step: number): void {
    if (this.disabledBy || !this.runs.has(runId)) return;
    this.thread?.postMessage({ type: 'log', runId, data: { ...metrics }, step });
  }

  async finish(record: RunExecutionMetadata): Promise<void> {
    const run = this.runs.get(record.run_id);
    if (!run || this.disabledBy) return;
    this.thread?.postMessage({
      type: 'finish',
      runId: record.run_id,
      data: finalFields(record),
      exitCode: exitCodeOf(record),
    });
    run.finishCalled = true;
    run.finishing.resolve();
    this.holdWhileUndelivered();
  }

  /** Wait until W&B has every run whose finish was called (each within its timeouts). */
  async flush(): Promise<void> {
    await Promise.all([...this.runs.values()].filter((run) => run.finishCalled).map((run) => run.task));
  }

  /** {@link flush}, then stop the thread; runs never finished are dropped. */
  async close(): Promise<void> {
    await this.flush();
    const thread = this.thread;
    this.thread = undefined;
    for (const run of this.runs.values()) {
      run.dropped = true;
      run.finishing.reject(new Error('the tracker was closed before the run finished'));
    }
    this.runs.clear();
    thread?.unref();
    await thread?.terminate();
  }

  /** The tracking thread: made at the first run, reused by every later one. */
  private threadFor(): Worker {
    if (this.thread) return this.thread;
    // No `stdout: true`: reading a worker's piped stdio refs the process until the thread ends.
    // The thread sends its console and stdio writes as messages instead.
    // required here, not at the top: loading worker_threads (and Node's streams with it) costs every
    // start ~1-2 ms, and a start with W&B off never needs it
    const { Worker: ThreadWorker } = require('node:worker_threads') as typeof import('node:worker_threads'); // eslint-disable-line @typescript-eslint/no-require-imports
    const thread = new ThreadWorker(WORKER_FILE);
    thread.on('message', (message: ThreadMessage) => this.onMessage(message));
    thread.on('error', (error) => this.failAll(error));
    thread.on('exit', (code) => {
      if (this.thread === thread) this.failAll(new Error(`the W&B thread exited (code ${code})`));
    });
    // after the listeners (adding a 'message' listener refs the thread again)
    thread.unref();
    this.thread = thread;
    return thread;
  }

  /**
   * Ref the thread while W&B lacks a run whose finish was called, unref it otherwise: a process
   * whose event loop empties stays only until those runs are delivered (or their timeouts fire,
   * which stops the thread), and is never kept by the SDK's own timers and sockets.
   */
  private holdWhileUndelivered(): void {
    const undelivered = [...this.runs.values()].some((run) => run.finishCalled);
    if (undelivered) this.thread?.ref();
    else this.thread?.unref();
  }

  /** `promise`, or a timeout error after `ms` on the clock (an unref'd timer: the thread holds the process). */
  private within(promise: Promise<void>, ms: number, step: 'init' | 'finish'): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const expiry = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new Error(`W&B did not answer ${step} within ${ms} ms`)), ms, {
        unref: true,
      });
    });
    return Promise.race([promise, expiry]).finally(() => this.clock.clearTimeout(timer));
  }

  private onMessage(message: ThreadMessage): void {
    if (message.type === 'console') {
      this.options.logger.debug(`wandb: ${message.text}`);
      return;
    }
    if (message.type === 'error' && message.runId === undefined) {
      this.failAll(new Error(message.message));
      return;
    }
    const run = this.runs.get(message.runId!);
    if (!run) return;
    if (message.type === 'started') run.started.resolve();
    else if (message.type === 'finished') run.finished.resolve();
    else if (message.type === 'error') {
      const error = new Error(message.message);
      run.started.reject(error);
      run.finished.reject(error);
    }
  }

  /** The thread failed as a whole: every run in it fails (one warning, W&B off). */
  private failAll(error: Error): void {
    for (const run of this.runs.values()) {
      run.started.reject(error);
      run.finishing.reject(error);
      run.finished.reject(error);
    }
  }

  private fail(service: string, cause: unknown): void {
    if (this.disabledBy) return;
    this.disabledBy = new ObservabilityError(service, 'wandb', cause);
    this.options.logger.warn(
      `${this.disabledBy.message}. W&B tracking is off for the rest of this process; runs go on.`,
      {
        fix: `Check WANDB_API_KEY, WANDB_ENTITY and that ${this.options.config.baseUrl} is reachable, or set WANDB_MODE=offline to keep runs on disk.`,
      },
    );
    // the thread may be stuck in the SDK's retries: stop it, and the runs still in it
    const thread = this.thread;
    this.thread = undefined;
    this.failAll(cause instanceof Error ? cause : new Error(String(cause)));
    thread?.unref();
    void thread?.terminate();
  }
}
