import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ObservabilityError,
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

type WorkerMessage =
  | { type: 'started' }
  | { type: 'finished' }
  | { type: 'error'; message: string }
  | { type: 'console'; level: string; text: string };

interface TrackedRun {
  readonly service: string;
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

/** Options of {@link WandbTracker}. */
export interface WandbTrackerOptions {
  readonly config: Pick<
    TrackingConfig,
    'project' | 'entity' | 'baseUrl' | 'apiKey' | 'initTimeoutMs' | 'finishTimeoutMs'
  >;
  readonly redactor: Redactor;
  readonly logger: Logger;
}

/**
 * Tracks each run as a W&B run (project = `WANDB_PROJECT` or the service, run name = run id),
 * with `@wandb/sdk` isolated in a worker thread per run. Init and finish are bounded by
 * timeouts; metrics are queued to the worker without waiting (the finish timeout covers
 * flushing them). Any failure (crash, hang, 4xx, 5xx) is logged once as an
 * {@link ObservabilityError} with the fix to try, W&B is switched off for the rest of the
 * process, and the run itself is never affected: no method throws.
 */
export class WandbTracker implements Tracker {
  private readonly runs = new Map<string, TrackedRun>();
  private disabledBy: ObservabilityError | undefined;

  constructor(private readonly options: WandbTrackerOptions) {}

  /** Why W&B was switched off, if it was. */
  get disabledReason(): ObservabilityError | undefined {
    return this.disabledBy;
  }

  async start(start: TrackedRunStart): Promise<void> {
    if (this.disabledBy) return;
    const { config, redactor } = this.options;
    const { record } = start;
    const worker = new Worker(WORKER_FILE, {
      workerData: {
        project: projectFor(record.service, config.project),
        entity: config.entity ?? '',
        id: record.run_id.toLowerCase(),
        name: record.run_id,
        config: runConfig(start, redactor),
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
      },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    worker.unref();
    const ready = this.await(worker, 'started', config.initTimeoutMs, 'init');
    const tracked = { service: record.service, worker, ready };
    this.runs.set(record.run_id, tracked);
    try {
      await ready;
    } catch (error) {
      this.fail(record.run_id, record.service, error);
    }
  }

  log(runId: string, metrics: Record<string, number>, step: number): void {
    const run = this.runs.get(runId);
    if (!run || this.disabledBy) return;
    run.worker.postMessage({ type: 'log', data: { ...metrics }, step });
  }

  async finish(record: RunExecutionMetadata): Promise<void> {
    const run = this.runs.get(record.run_id);
    if (!run) return;
    try {
      if (this.disabledBy) return;
      const done = this.await(run.worker, 'finished', this.options.config.finishTimeoutMs, 'finish');
      run.worker.postMessage({ type: 'finish', data: finalFields(record), exitCode: exitCodeOf(record) });
      await done;
    } catch (error) {
      this.fail(record.run_id, record.service, error);
    } finally {
      this.runs.delete(record.run_id);
      await run.worker.terminate();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.runs.values()].map((run) => run.worker.terminate()));
    this.runs.clear();
  }

  /** Wait for `expected` from the worker, failing on an error message, an exit or the timeout. */
  private await(worker: Worker, expected: 'started' | 'finished', timeoutMs: number, step: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const settle = (error?: Error) => {
        cleanup();
        if (error) reject(error);
        else resolve();
      };
      const onMessage = (message: WorkerMessage) => {
        if (message.type === expected) settle();
        else if (message.type === 'error') settle(new Error(message.message));
        else if (message.type === 'console') this.options.logger.debug(`wandb: ${message.text}`);
      };
      const onError = (error: Error) => settle(error);
      const onExit = (code: number) => settle(new Error(`the W&B worker exited (code ${code}) during ${step}`));
      const timer = setTimeout(() => settle(new Error(`W&B did not answer ${step} within ${timeoutMs} ms`)), timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private fail(runId: string, service: string, cause: unknown): void {
    const run = this.runs.get(runId);
    this.runs.delete(runId);
    void run?.worker.terminate();
    if (this.disabledBy) return;
    this.disabledBy = new ObservabilityError(service, 'wandb', cause);
    this.options.logger.warn(
      `${this.disabledBy.message}. W&B tracking is off for the rest of this process; runs go on.`,
      {
        fix: `Check WANDB_API_KEY, WANDB_ENTITY and that ${this.options.config.baseUrl} is reachable, or set WANDB_MODE=offline to keep runs on disk.`,
      },
    );
  }
}
