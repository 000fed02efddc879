import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { context, propagation } from '@opentelemetry/api';
import {
  IdempotencyKeyMismatchError,
  InvalidRequestError,
  JobFailedError,
  JobNotFoundError,
  WaitTimeoutError,
  keyVerdict,
  parseIntegrationRequest,
  payloadHash,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { defaultInvoker } from '@pipeline-invocation/invoker';
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

/** Options of {@link InvocationQueue}. */
export interface InvocationQueueOptions {
  /**
   * Checks a request before it is queued, as an invocation would (its service exists, its
   * payload passes the handler's schema): pass an invoker (`createInvoker()`), whose
   * `checkRequest` throws UnknownServiceError or InvalidRequestError. Without one, only the
   * request's shape is checked (the worker refuses the rest).
   */
  invoker?: { checkRequest(service: string, payload: unknown): Promise<Record<string, unknown> | void> };
  /**
   * Close the Redis connections once nothing has used them for this long (ms); the next call
   * opens them again. A script that used the queue then ends by itself. Default: never (call
   * {@link InvocationQueue.close}). The top-level functions' queue uses 1000.
   */
  idleCloseMs?: number;
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
  /** Calls in progress, and the timer that closes idle connections (see `idleCloseMs`). */
  private inUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly connection: ConnectionOptions = redisConnection(),
    private readonly options: InvocationQueueOptions = {},
  ) {}

  /** Run `call` as one use of the connections: an idle queue closes them after `idleCloseMs`. */
  private async use<T>(call: () => Promise<T>): Promise<T> {
    this.inUse += 1;
    clearTimeout(this.idleTimer);
    try {
      return await call();
    } finally {
      this.inUse -= 1;
      if (this.inUse === 0 && this.options.idleCloseMs !== undefined) {
        // unref'd: the connections (while open) keep the process alive, this timer does not
        this.idleTimer = setTimeout(() => {
          if (this.inUse === 0) void this.close().catch(() => {});
        }, this.options.idleCloseMs);
        this.idleTimer.unref();
      }
    }
  }

  /**
   * Validate `request` (bad input is refused before it reaches Redis) and queue it.
   * Returns the job handle, `<service>/<job id>`.
   *
   * @throws InvalidRequestError naming the bad fields; UnknownServiceError when the queue's
   *   invoker (see {@link InvocationQueueOptions.invoker}) has no such service.
   */
  async enqueue(request: unknown, options: EnqueueOptions = {}): Promise<string> {
    const parsed = parseIntegrationRequest(request);
    // the payload as the handler's schema validates it: its hash is the one the run store compares
    const validated = (await this.options.invoker?.checkRequest(parsed.service, parsed.payload)) ?? parsed.payload;
    return this.use(() => this.add(parsed, validated, options));
  }

  private async add(
    parsed: ReturnType<typeof parseIntegrationRequest>,
    validated: Record<string, unknown>,
    options: EnqueueOptions,
  ): Promise<string> {
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
      ...(key ? { idempotencyKey: key, payloadHash: payloadHash(validated) } : {}),
    };
    if (key) {
      const handle = await this.reuse(parsed.service, key, data.payloadHash!);
      if (handle) return handle;
    }
    const job = await this.queue(parsed.service).add(parsed.service, data, jobOptions);
    return jobHandle(parsed.service, job.id!);
  }

  /**
   * The job already queued under `key`, when it still stands for the request. The job is taken
   * for the key's holder (a job not yet finished for a RUNNING one, a finished job for the run it
   * recorded) and core's `keyVerdict`, the rule `RunLifecycle.begin` applies to a key, decides:
   * a job whose run ended without success is removed, so the key runs again; one that stands
   * for another payload is refused; otherwise its handle is returned.
   */
  private async reuse(service: string, key: string, hash: string): Promise<string | undefined> {
    const jobId = jobIdForKey(key);
    const existing = await this.queue(service).getJob(jobId);
    if (!existing) return undefined;
    const handle = jobHandle(service, jobId);
    const state = await existing.getState();
    const record: RunExecutionMetadata | undefined =
      state === 'completed' ? existing.returnvalue : state === 'failed' ? existing.data.lastRecord : undefined;
    const holder = {
      // a finished job without a record ended without a run that succeeded
      status: record?.status ?? (state === 'completed' || state === 'failed' ? 'FAILED' : 'RUNNING'),
      ...(existing.data.payloadHash ? { payload_hash: existing.data.payloadHash } : {}),
    } as const;
    switch (keyVerdict(holder, hash)) {
      case 'rerun':
        await existing.remove();
        return undefined;
      case 'mismatch':
        throw new IdempotencyKeyMismatchError(
          key,
          record?.status === 'SUCCEEDED' ? record.run_id : `job ${handle}`,
          '(not queued)',
        );
      default:
        return handle;
    }
  }

  /**
   * Wait for a queued invocation and return its run record (also for a run that failed).
   *
   * @throws JobNotFoundError when there is no such job; JobFailedError when the job ended
   *   without a run record (e.g. the store stayed down through every attempt);
   *   WaitTimeoutError when it did not finish within `timeoutMs` (default 60 000);
   *   InvalidRequestError for a handle that is not `<service>/<job id>`.
   */
  async waitForRun(handle: string, { timeoutMs = 60_000 } = {}): Promise<RunExecutionMetadata> {
    const { service, jobId } = handleParts(handle);
    return this.use(async () => {
      const queue = this.queue(service);
      // Listen before looking, so a job that finishes in between is not missed.
      const events = this.queueEvents(service);
      await events.waitUntilReady();
      const job = await queue.getJob(jobId);
      if (!job) throw new JobNotFoundError(handle);
      try {
        return (await job.waitUntilFinished(events, timeoutMs)) as RunExecutionMetadata;
      } catch (error) {
        const after = await queue.getJob(jobId);
        if (!after) throw new JobNotFoundError(handle, { cause: error });
        if (await after.isCompleted()) return after.returnvalue as RunExecutionMetadata;
        if (await after.isFailed()) {
          if (after.data.lastRecord) return after.data.lastRecord;
          throw new JobFailedError(handle, after.failedReason || (error as Error).message, after.attemptsMade, {
            cause: error,
          });
        }
        throw new WaitTimeoutError(handle, timeoutMs, await after.getState(), { cause: error });
      }
    });
  }

  /** Job counts of each service queue. */
  async stats(services: readonly string[]): Promise<QueueCounts[]> {
    return this.use(() =>
      Promise.all(
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
      ),
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

  /** Close the Redis connections (the next call opens them again). */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    // taken out first: a call that starts meanwhile opens connections of its own
    const events = [...this.events.values()];
    const queues = [...this.queues.values()];
    this.events.clear();
    this.queues.clear();
    await Promise.all(events.map((e) => e.close()));
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** The parts of a job handle; a malformed one is an InvalidRequestError. */
function handleParts(handle: string): { service: string; jobId: string } {
  try {
    return parseJobHandle(handle);
  } catch (error) {
    throw new InvalidRequestError((error as Error).message, [], { cause: error });
  }
}

let shared: InvocationQueue | undefined;

/**
 * The queue behind the top-level functions (`REDIS_URL`). It checks requests with the default
 * invoker (an unknown service or a bad payload is refused before it is queued) and closes its
 * connections after a second without use, so a script that used it ends by itself.
 */
export function defaultQueue(): InvocationQueue {
  shared ??= new InvocationQueue(redisConnection(), {
    // the default invoker of the moment (a closed one is replaced by a new one)
    invoker: { checkRequest: (service, payload) => defaultInvoker().checkRequest(service, payload) },
    idleCloseMs: 1000,
  });
  return shared;
}

/**
 * Close the default queue's Redis connections now (they also close after a second idle). Call
 * it at the end of a script that used {@link enqueueInvocation} or {@link waitForRun} to end at
 * once; a later call opens them again.
 */
export async function closeQueue(): Promise<void> {
  await shared?.close();
}

/**
 * Queue an invocation on the default queue (`REDIS_URL`); returns its job handle. An unknown
 * service or a bad payload is refused as by `invokePipelineHandler`.
 *
 * @throws UnknownServiceError, InvalidRequestError.
 * @example
 * const job = await enqueueInvocation({ service: 'ml_inference_perspective_api', payload: { run_type: 'prod' }, metadata: { request_id: 'daily-2026-11-22' } });
 * const record = await waitForRun(job, { timeoutMs: 600_000 });
 */
export function enqueueInvocation(request: unknown, options?: EnqueueOptions): Promise<string> {
  return defaultQueue().enqueue(request, options);
}

/**
 * Wait for a queued invocation on the default queue; see {@link InvocationQueue.waitForRun}.
 *
 * @throws JobNotFoundError, JobFailedError, WaitTimeoutError.
 */
export function waitForRun(handle: string, options?: { timeoutMs?: number }): Promise<RunExecutionMetadata> {
  return defaultQueue().waitForRun(handle, options);
}
