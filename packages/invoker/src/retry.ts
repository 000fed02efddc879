import { isTransientStoreError } from '@pipeline-invocation/storage';

/**
 * Run `fn`, retrying after each delay in `delaysMs` while it throws an error the storage
 * package classifies as transient; the last error, or the first permanent one, escapes.
 */
export async function withRetries<T>(fn: () => Promise<T>, delaysMs: readonly number[]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const delay = delaysMs[attempt];
      if (delay === undefined || !isTransientStoreError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
