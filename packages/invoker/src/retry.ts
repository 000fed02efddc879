import { retry, retryPolicyFromDelays } from '@pipeline-invocation/core';
import { isTransientStoreError } from '@pipeline-invocation/storage';

/**
 * Run `fn` under core's retry policy with explicit delays, retrying errors the storage package
 * classifies as transient (a store-less writer's own errors: see the seed collaborators).
 */
export async function withRetries<T>(fn: () => Promise<T>, delaysMs: readonly number[]): Promise<T> {
  return retry(fn, { policy: retryPolicyFromDelays(delaysMs), classify: (e) => ({ retryable: isTransientStoreError(e) }) });
}
