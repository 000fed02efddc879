import type { IntegrationRequest, RunExecutionMetadata } from '@pipeline-invocation/core';

/** What a queued invocation carries. */
export interface InvocationJobData {
  request: IntegrationRequest;
  timeoutMs?: number;
  idempotencyKey?: string;
  /** SHA-256 of the request payload, so a reused key with another payload is refused. */
  payloadHash?: string;
  /** The record of a failed run, kept for waitForRun when the job ends failed. */
  lastRecord?: RunExecutionMetadata;
  /** The schedule that queued this job (`pipeline schedule add`). */
  scheduleId?: string;
  /** A run of an earlier attempt that was alive when this job was re-attempted: it is waited for, never run twice. */
  awaitingRunId?: string;
  /** The W3C trace context (`traceparent`, `tracestate`) of the span that queued it. */
  traceContext?: Record<string, string>;
}

/** A job handle: `<service>/<job id>`, enough to find the job again. */
export function jobHandle(service: string, jobId: string): string {
  return `${service}/${jobId}`;
}

/** Split a handle made by {@link jobHandle}. */
export function parseJobHandle(handle: string): { service: string; jobId: string } {
  const slash = handle.indexOf('/');
  if (slash <= 0 || slash === handle.length - 1) {
    throw new TypeError(`"${handle}" is not a job id returned by enqueueInvocation (<service>/<job>)`);
  }
  return { service: handle.slice(0, slash), jobId: handle.slice(slash + 1) };
}

/**
 * The BullMQ job id for an idempotency key: BullMQ refuses ids that are integers or contain
 * ":", so the key is encoded and prefixed.
 */
export const jobIdForKey = (key: string) => `key-${encodeURIComponent(key)}`;
