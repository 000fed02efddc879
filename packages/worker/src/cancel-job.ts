import type { RunExecutionMetadata, RunLifecycle } from '@pipeline-invocation/core';
import type { InvocationQueue } from './invocation-queue';
import { parseJobHandle } from './job';

/** What {@link cancelQueuedJob} did. */
export type JobCancelOutcome =
  /** The job had not started (waiting, delayed, prioritized): it was removed from the queue. */
  | { readonly outcome: 'removed'; readonly state: string }
  /** A worker runs it: its run was asked to stop (`pipeline cancel` of that run). */
  | { readonly outcome: 'cancel-requested'; readonly run: RunExecutionMetadata }
  /** It had already ended (completed or failed), or is active with no run yet: nothing to do. */
  | { readonly outcome: 'finished' | 'starting'; readonly state: string }
  | { readonly outcome: 'unknown' };

/**
 * Cancel a queued invocation by its job handle (`<service>/<job id>`, as `enqueueInvocation`
 * returned it): a job not yet started is removed (it will never run); a job a worker is running
 * has its run asked to stop through the lifecycle, like `pipeline cancel <run_id>`.
 */
export async function cancelQueuedJob(
  queue: InvocationQueue,
  lifecycle: RunLifecycle,
  handle: string,
): Promise<JobCancelOutcome> {
  const { service, jobId } = parseJobHandle(handle);
  const job = await queue.queue(service).getJob(jobId);
  if (!job) return { outcome: 'unknown' };
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') return { outcome: 'finished', state };
  if (state !== 'active') {
    await job.remove();
    return { outcome: 'removed', state };
  }
  for await (const run of lifecycle.running(service)) {
    if (run.job_id === handle) {
      return { outcome: 'cancel-requested', run: (await lifecycle.requestCancel(run.run_id)) ?? run };
    }
  }
  return { outcome: 'starting', state };
}
