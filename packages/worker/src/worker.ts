import { setMaxListeners } from 'node:events';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { ROOT_CONTEXT, SpanKind, propagation } from '@opentelemetry/api';
import {
  describe,
  errorPolicy,
  type Logger,
  type RunExecutionMetadata,
  type RunLifecycle,
} from '@pipeline-invocation/core';
import { createInvoker, type Invoker } from '@pipeline-invocation/invoker';
import { QUEUE_PREFIX, queueName, redisConnection } from './config';
import { jobHandle, type InvocationJobData } from './job';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** Jobs run at once, per service queue (default 1). */
  concurrency?: number;
  /** Serve only these services (default: every service the invoker knows). */
  services?: string[];
  connection?: ConnectionOptions;
  /** The invoker that runs the jobs (default: `createInvoker()` from the environment). */
  invoker?: Invoker;
  /** How often BullMQ looks for jobs whose worker died (ms; default 30 000). */
  stalledIntervalMs?: number;
  /** How long a job's lock lasts without renewal (ms; default 30 000). */
  lockDurationMs?: number;
}

/** A running worker. */
export interface RunningWorker {
  readonly services: readonly string[];
  readonly invoker: Invoker;
  /**
   * Stop taking jobs and finish the ones in hand; after `timeoutMs` (default 30 s) the rest are
   * cancelled (their runs end CANCELLED) and given back to the queue, and the worker closes.
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Run queued invocations with the invoker's executor: one BullMQ worker per service queue.
 * A handler failure is recorded once per attempt and not retried unless the handler marked it
 * retryable; infrastructure failures before the handler ran (the store down) are retried with
 * the job's backoff. A handler never runs twice for one job because a write failed after it ran:
 * that job completes with the record kept in the outbox. If a worker dies mid-job, BullMQ hands
 * the job to another worker, which marks the earlier attempt's RUNNING record CRASHED only once
 * its heartbeat is stale; while it is fresh (a false stall) the job waits for that run.
 */
export async function startWorker(options: WorkerOptions = {}): Promise<RunningWorker> {
  const invoker = options.invoker ?? createInvoker();
  const services = options.services?.length ? options.services : invoker.listServices();
  if (services.length === 0) throw new Error('no services to serve: install a handler plugin, or pass --services');
  const unknown = services.filter((s) => !invoker.listServices().includes(s));
  if (unknown.length)
    throw new Error(
      `unknown service(s) ${unknown.join(', ')}; installed: ${invoker.listServices().join(', ') || '(none)'}`,
    );
  const connection = options.connection ?? redisConnection();
  const logger = invoker.logger.child({ component: 'worker' });
  // Force-closing cancels every job in hand through one signal of this worker's, not BullMQ's
  // per-job one: a processor that takes BullMQ's signal makes BullMQ build an AbortController
  // (an EventTarget) for each job, several microseconds and a few promoted objects a job. A job
  // that starts after the cancellation gets no signal, as it got a fresh one from BullMQ.
  const closing = new AbortController();
  // (the invoker's runs on it share one listener of it; whatever else listens, many is no leak)
  setMaxListeners(0, closing.signal);
  const workers = services.map(
    (service) =>
      new Worker<InvocationJobData, RunExecutionMetadata>(
        queueName(service),
        (job, token) => processJob(job, token, closing.signal.aborted ? undefined : closing.signal, invoker, logger),
        {
          connection,
          prefix: QUEUE_PREFIX,
          concurrency: options.concurrency ?? 1,
          stalledInterval: options.stalledIntervalMs ?? 30_000,
          lockDuration: options.lockDurationMs ?? 30_000,
          maxStalledCount: 2,
        },
      ),
  );
  for (const worker of workers) {
    // BullMQ reports here both connection trouble and a job lock this worker lost (after a false
    // stall another worker may hold the job; its run is then waited for, never run twice)
    worker.on('error', (error) => logger.warn(`queue error (connection or job lock): ${describe(error)}`));
    worker.on('failed', (job, error) => {
      logger.warn(`job ${job?.id} failed: ${error.message}`, { attempts: job?.attemptsMade });
      // BullMQ gave up on a job whose workers kept dying: its last run would stay RUNNING.
      if (job?.id && job.stalledCounter > 0) void markGivenUp(invoker, job, logger);
    });
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info(`worker serving ${services.join(', ')}`, { concurrency: options.concurrency ?? 1 });
  return {
    services,
    invoker,
    async close(timeoutMs = 30_000) {
      const { clock } = invoker;
      // Each wait below is bounded and its timer cleared: a close never holds the process longer.
      const within = async <T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> => {
        const stop = new AbortController();
        try {
          return await Promise.race([work, clock.sleep(ms, stop.signal).then(() => 'timeout' as const)]);
        } finally {
          stop.abort();
        }
      };
      const graceful = Promise.all(workers.map((w) => w.close()));
      graceful.catch(() => {});
      if ((await within(graceful, timeoutMs)) === 'timeout') {
        // Their handlers are told to stop (their runs end CANCELLED, the jobs go back to be run
        // again by another worker); what has not stopped after the cancel grace is left running
        // no longer than this process. When Redis is unreachable, BullMQ's own close never ends.
        const active = (await Promise.all(workers.map((w) => w.isRunning()))).some(Boolean);
        logger.warn(
          `the worker did not close within ${timeoutMs} ms (jobs still running${active ? '' : ', or Redis unreachable'}): cancelling its jobs; another worker runs them again`,
        );
        closing.abort(CLOSING);
        await within(graceful, invoker.lifecycle.cancelGraceMs + 1000);
        const forced = Promise.all(workers.map((w) => w.close(true)));
        forced.catch(() => {});
        if ((await within(forced, 5000)) === 'timeout')
          logger.warn('BullMQ did not close (Redis unreachable?): leaving it');
      }
      if (!options.invoker) await invoker.close();
    },
  };
}

/** The cancel reason of jobs a closing worker gives back (their runs end CANCELLED; the jobs run again). */
const CLOSING = 'the worker is closing';

async function processJob(
  job: Job<InvocationJobData, RunExecutionMetadata>,
  token: string | undefined,
  signal: AbortSignal | undefined,
  invoker: Invoker,
  logger: Logger,
): Promise<RunExecutionMetadata> {
  const { request, timeoutMs, idempotencyKey, scheduleId } = job.data;
  const lifecycle = await invoker.runLifecycle();
  // A re-attempt: an earlier attempt of this job may have left a run. It is marked CRASHED only
  // when its heartbeat is stale; a live one (a false stall: its worker's event loop was blocked
  // past the lock) is waited for, never run a second time.
  if (job.stalledCounter > 0 || job.attemptsMade > 0 || job.data.awaitingRunId) {
    const previous = await previousAttempts(lifecycle, job, logger);
    if (previous.kind === 'alive') {
      const waitMs = Math.max(1000, lifecycle.staleAtMs(previous.run) - lifecycle.clock.now());
      logger.warn(`run ${previous.run.run_id} of an earlier attempt of job ${job.id} is alive: waiting ${waitMs} ms`, {
        job: job.id,
      });
      await job.updateData({ ...job.data, awaitingRunId: previous.run.run_id });
      await job.moveToDelayed(lifecycle.clock.now() + waitMs, token);
      throw new DelayedError();
    }
    if (previous.kind === 'succeeded') return previous.run; // it finished meanwhile: never run twice
  }
  if (scheduleId) {
    const busy = await runningOfSchedule(lifecycle, request.service, scheduleId);
    if (busy) {
      logger.info(`schedule ${scheduleId}: run ${busy.run_id} is still RUNNING, so this tick starts no run`);
      return busy;
    }
  }
  let record: RunExecutionMetadata;
  try {
    record = await invoker.invokePipelineHandler(request.service, request.payload, request.metadata, {
      timeoutMs,
      idempotencyKey,
      scheduleId,
      // a force-closing worker aborts the run
      ...(signal ? { signal } : {}),
      // the job's slot is free only once its handler has settled: concurrency is never exceeded
      holdUntilSettled: true,
      // the run's span continues the trace of whoever queued the job, across processes
      spanKind: SpanKind.CONSUMER,
      ...(job.data.traceContext ? { traceContext: propagation.extract(ROOT_CONTEXT, job.data.traceContext) } : {}),
      // the record names its job, so the job's next attempt can find the run if this worker dies
      // (no write to the job: that was a Redis round trip per run)
      jobId: jobHandle(request.service, job.id!),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const kept = (error as { record?: RunExecutionMetadata }).record;
    if (name === 'MetadataWriteError' && kept) {
      // The handler ran; only its final write failed (the record waits in the outbox or the
      // log). Running the job again would run the handler twice: the job ends with the record.
      logger.error(`run ${kept.run_id} finished ${kept.status} but its record could not be stored`, {
        job: job.id,
        error: describe(error),
      });
      record = kept;
    } else if (!errorPolicy(error).retry) {
      throw new UnrecoverableError(describe(error)); // core's error table: no retry can fix it
    } else {
      throw error instanceof Error ? error : new Error(describe(error)); // the handler did not run: retried with backoff
    }
  }
  if (record.status === 'SUCCEEDED') return record;
  await job.updateData({ ...job.data, lastRecord: record });
  const reason = `run ${record.run_id} ${record.status}: ${record.body}`;
  // a closing worker gave the job back: another worker runs it again
  if (record.status === 'CANCELLED' && signal?.aborted && signal.reason === CLOSING) throw new Error(reason);
  if (record.error?.retryable) throw new Error(reason); // retried, one record per attempt
  throw new UnrecoverableError(reason);
}

/** A run of schedule `scheduleId` that is RUNNING with a fresh heartbeat (a dead one does not block). */
async function runningOfSchedule(
  lifecycle: RunLifecycle,
  service: string,
  scheduleId: string,
): Promise<RunExecutionMetadata | undefined> {
  for await (const run of lifecycle.running(service)) {
    if (run.schedule_id === scheduleId && !lifecycle.isStale(run)) return run;
  }
  return undefined;
}

/**
 * BullMQ gave up on a job whose workers kept stalling: its last run would stay RUNNING. It is
 * marked CRASHED once its heartbeat is stale; a run still alive now is looked at again when its
 * heartbeat would be stale (it may finish by itself meanwhile, and then its record stands).
 */
async function markGivenUp(invoker: Invoker, job: Job<InvocationJobData>, logger: Logger): Promise<void> {
  try {
    const lifecycle = await invoker.runLifecycle();
    const previous = await previousAttempts(lifecycle, job, logger);
    if (previous.kind !== 'alive') return;
    const waitMs = Math.max(1000, lifecycle.staleAtMs(previous.run) - lifecycle.clock.now() + 1);
    lifecycle.clock.setTimeout(() => void markGivenUp(invoker, job, logger), waitMs, { unref: true });
  } catch (error) {
    logger.warn(`could not mark the runs of job ${job.id}: ${describe(error)}`);
  }
}

/** What earlier attempts of a job left: nothing in the way, a live run to wait for, or its SUCCEEDED run. */
type PreviousAttempts =
  { kind: 'clear' } | { kind: 'alive'; run: RunExecutionMetadata } | { kind: 'succeeded'; run: RunExecutionMetadata };

/**
 * The runs earlier attempts of `job` left RUNNING: each is marked CRASHED when its heartbeat is
 * stale (its worker died); a fresh one is alive. The run an earlier attempt waited for is read
 * again: when it SUCCEEDED meanwhile, the job is done.
 */
async function previousAttempts(
  lifecycle: RunLifecycle,
  job: Job<InvocationJobData>,
  logger: Logger,
): Promise<PreviousAttempts> {
  const service = job.data.request.service;
  if (job.data.awaitingRunId) {
    const awaited = await lifecycle.store.readRun({ service, run_id: job.data.awaitingRunId });
    if (awaited?.status === 'SUCCEEDED') return { kind: 'succeeded', run: awaited };
  }
  const handle = jobHandle(service, job.id!);
  for await (const previous of lifecycle.running(service)) {
    if (previous.job_id !== handle) continue;
    const outcome = await lifecycle.markCrashed(previous, {
      name: 'WorkerCrashed',
      body: 'The worker running this attempt stopped before the run finished; the job was run again.',
    });
    if (outcome.crashed) logger.warn(`marked run ${previous.run_id} CRASHED: its worker died mid-job`, { job: job.id });
    else if (outcome.reason === 'fresh') return { kind: 'alive', run: outcome.record! };
    else if (outcome.record?.status === 'SUCCEEDED') return { kind: 'succeeded', run: outcome.record };
  }
  return { kind: 'clear' };
}
