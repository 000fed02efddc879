import { RunLifecycle, type RunStore } from '@pipeline-invocation/core';
import { createRunStore, storageConfigFromEnv } from '@pipeline-invocation/storage';
import { lifecycleConfig } from '../config';
import type { Io } from './io';

/** Open the run store the environment configures, run `use` with it, and always close it. */
export async function withRunStore<T>(io: Io, use: (store: RunStore) => Promise<T>): Promise<T> {
  const store = await createRunStore(storageConfigFromEnv(io.env, io.cwd));
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/**
 * Open the run store the environment configures and run `use` with the lifecycle over it (the
 * staleness limit from `PIPELINE_STALE_AFTER_MS`); always closes the store.
 */
export async function withRunLifecycle<T>(io: Io, use: (lifecycle: RunLifecycle) => Promise<T>): Promise<T> {
  return withRunStore(io, (store) =>
    use(new RunLifecycle(store, { staleAfterMs: lifecycleConfig(io.env).staleAfterMs })),
  );
}
