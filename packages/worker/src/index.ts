/**
 * @packageDocumentation
 * Distributed execution for pipeline-invocation: invocations on BullMQ queues in Redis (one per
 * service), run by any number of worker processes with the same executor, records and tracking.
 * The AWS Lambda entry point is at `@pipeline-invocation/worker/lambda` (no Redis needed).
 */
export {
  InvocationQueue,
  enqueueInvocation,
  waitForRun,
  defaultQueue,
  closeQueue,
  type EnqueueOptions,
  type InvocationQueueOptions,
  type QueueCounts,
} from './invocation-queue';
export { startWorker, type WorkerOptions, type RunningWorker } from './worker';
export { redisConnection, QUEUE_PREFIX } from './config';
export {
  Schedules,
  ScheduleError,
  defaultScheduleId,
  redisAnswers,
  repeatOptionsOf,
  type ScheduleInfo,
  type ScheduleSpec,
} from './schedules';
export { jobHandle, parseJobHandle, type InvocationJobData } from './job';
export { cancelQueuedJob, type JobCancelOutcome } from './cancel-job';
export { createLambdaHandler, type LambdaHandlerOptions, type LambdaContextLike } from './lambda';
