/** Run `fn`, retrying after each delay in `delaysMs` while it throws; the last error escapes. */
export async function withRetries<T>(fn: () => Promise<T>, delaysMs: readonly number[]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const delay = delaysMs[attempt];
      if (delay === undefined || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Errors worth retrying: everything but a definite "this will never work" from the store. */
function isTransient(error: unknown): boolean {
  const name = error instanceof Error ? error.name : '';
  return name !== 'RunStoreError' || /locked|busy/i.test((error as Error).message);
}
