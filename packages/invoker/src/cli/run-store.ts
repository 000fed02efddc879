import type { RunStore } from '@pipeline-invocation/core';
import { createRunStore, storageConfigFromEnv } from '@pipeline-invocation/storage';
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
