import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { context, propagation } from '@opentelemetry/api';
import {
  IdempotencyKeyMismatchError,
  parseIntegrationRequest,
  payloadHash,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { QUEUE_PREFIX, queueName, redisConnection } from './config';
import { jobHandle, jobIdForKey, parseJobHandle, type InvocationJobData } from './job';

/** Options of {@link InvocationQueue.enqueue}. */
export interface EnqueueOptions {
  /**
   * Also the job id: while a job with this key waits, runs or has succeeded, enqueueing it again
   * returns that job; a job that failed is replaced (a failed key runs again, as in-process).
   * The same key with another payload is refused (IdempotencyKeyMismatchError). Default:
   * `metadata.request_id`.
   */
  idempotencyKey?: string;
  /** Handler timeout (ms) for each attempt. */
  timeoutMs?: number;
  /** Attempts for infrastructure failures and retryable handler failures (default 3). */
  attempts?: number;
  /** First retry delay (ms), doubling (default 1000). */
  backoffMs?: number;
}

/** Counts of one service queue. */
export interface QueueCounts {
  service: string;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
}

/**
 * Puts invocations on the BullMQ queues in Redis (one queue per service) and reads their
 * outcome. Close it when done.
 */
export class InvocationQueue {
  private readonly queues = new Map<string, Queue<InvocationJobData>>();
  private readonly events = new Map<string, QueueEvents>();

  constructor(readonly connection: ConnectionOptions = redisConnection()) {}

  /**
   * Validate `request` (bad input is refused before it reaches Redis) and queue it.
   * Returns the job handle, `<service>/<job id>`.
   *
   * @throws InvalidRequestError naming the bad fields.
   */
  async enqueue(request: unknown, options: EnqueueOptions = {}): Promise<string> {
    const parsed = parseIntegrationRequest(request);
    const key =
      options.idempotencyKey ??
      (typeof parsed.metadata.request_id === 'string' ? parsed.metadata.request_id : undefined);
    const jobOptions: JobsOptions = {
      attempts: options.attempts ?? 3,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
      ...(key ? { jobId: jobIdForKey(key) } : {}),
    };
    // the span this is called in (if an SDK records one) becomes the parent of the run's span
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    const data: InvocationJobData = {
      request: parsed,
      ...(Object.keys(traceContext).length ? { traceContext } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(key ? { idempotencyKey: key, payloadHash: payloadHash(parsed.payload) } : {}),
    };
    if (key) {
      const handle = await this.reuse(parsed.service, key, data.payloadHash!);
      if (handle) return handle;
    }
    const job = await this.queue(parsed.service).add(parsed.service, data, jobOptions);
    return jobHandle(parsed.service, job.id!);
  }

  /**
   * The job already queued under `key`, when it still stands for the request: waiting, active,
   * delayed, or completed with a SUCCEEDED run. A job that failed (or completed with a run that
   * did not succeed) is removed, so the key runs again, as the run store's rules say.
   */
  private async reuse(service: string, key: string, hash: string): Promise<string | undefined> {
    const jobId = jobIdForKey(key);
    const existing = await this.queue(service).getJob(jobId);
    if (!existing) return undefined;
    const handle = jobHandle(service, jobId);
    const state = await existing.getState();
    const succeeded = state === 'completed' && (existing.returnvalue as RunExecutionMetadata)?.status === 'SUCCEEDED';
    if (state === 'failed' || (state === 'completed' && !succeeded)) {
      await existing.remove();
      return undefined;
    }
    if (existing.data.payloadHash && existing.data.payloadHash !== hash) {
      throw new IdempotencyKeyMismatchError(
        key,
        succeeded ? (existing.returnvalue as RunExecutionMetadata).run_id : `job ${handle}`,
        '(not queued)',
      );
    }
    return handle;
  }

  /**
   * Wait for a queued invocation and return its run record (also for a run that failed).
   *
   * @throws Error when the job ended without a run record (e.g. the store stayed down through
   *   every attempt) or did not finish within `timeoutMs`.
   */
  async waitForRun(handle: string, { timeoutMs = 60_000 } = {}): Promise<RunExecutionMetadata> {
    const { service, jobId } = parseJobHandle(handle);
    const queue = this.queue(service);
    // Listen before looking, so a job that finishes in between is not missed.
    const events = this.queueEvents(service);
    await events.waitUntilReady();
    const job = await queue.getJob(jobId);
    if (!job) throw new Error(`no job ${handle} in Redis (finished jobs are kept 7 days, failed ones 30)`);
    try {
      return (await job.waitUntilFinished(events, timeoutMs)) as RunExecutionMetadata;
    } catch (error) {
      const after = await queue.getJob(jobId);
      if (after && (await after.isCompleted())) return after.returnvalue as RunExecutionMetadata;
      if (after?.data.lastRecord && (await after.isFailed())) return after.data.lastRecord;
      throw error;
    }
  }

  /** Job counts of each service queue. */
  async stats(services: readonly string[]): Promise<QueueCounts[]> {
    return Promise.all(
      services.map(async (service) => {
        const counts = await this.queue(service).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
        return {
          service,
          waiting: counts.waiting ?? 0,
          active: counts.active ?? 0,
          completed: counts.completed ?? 0,
          failed: counts.failed ?? 0,
          delayed: counts.delayed ?? 0,
        };
      }),
    );
  }

  /** The BullMQ queue of `service`. */
  queue(service: string): Queue<InvocationJobData> {
    let queue = this.queues.get(service);
    if (!queue) {
      queue = new Queue<InvocationJobData>(queueName(service), { connection: this.connection, prefix: QUEUE_PREFIX });
      queue.setMaxListeners(0); // waiting for a job adds a listener until it finishes
      this.queues.set(service, queue);
    }
    return queue;
  }

  private queueEvents(service: string): QueueEvents {
    let events = this.events.get(service);
    if (!events) {
      events = new QueueEvents(queueName(service), { connection: this.connection, prefix: QUEUE_PREFIX });
      events.setMaxListeners(0); // one listener per job being waited for
      this.events.set(service, events);
    }
    return events;
  }

  async close(): Promise<void> {
    await Promise.all([...this.events.values()].map((e) => e.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.events.clear();
    this.queues.clear();
  }
}

let shared: InvocationQueue | undefined;

/** The queue behind the top-level functions (`REDIS_URL`). */
export function defaultQueue(): InvocationQueue {
  shared ??= new InvocationQueue();
  return shared;
}

/**
 * Queue an invocation on the default queue (`REDIS_URL`); returns its job handle.
 *
 * @example
 * const job = await enqueueInvocation({ service: 'ml_inference_perspective_api', payload: { run_type: 'prod' }, metadata: { request_id: 'daily-2026-11-22' } });
 * const record = await waitForRun(job, { timeoutMs: 600_000 });
 */
export function enqueueInvocation(request: unknown, options?: EnqueueOptions): Promise<string> {
  return defaultQueue().enqueue(request, options);
}

/** Wait for a queued invocation on the default queue; see {@link InvocationQueue.waitForRun}. */
export function waitForRun(handle: string, options?: { timeoutMs?: number }): Promise<RunExecutionMetadata> {
  return defaultQueue().waitForRun(handle, options);
}
