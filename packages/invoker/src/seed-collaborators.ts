import type { RunExecutionMetadata, RunStore, Tracker } from '@pipeline-invocation/core';

/**
 * The original library's injectable collaborators, as plain functions
 * (`wandb_logger`, `load_metadata`, `write_metadata`).
 */
export interface SeedCollaborators {
  /** Called with the final record (the original's W&B logger). */
  trackRun?: (service: string, record: RunExecutionMetadata) => void | Promise<void>;
  /** Returns the previous run of a service (or undefined). */
  loadMetadata?: (service: string) => RunExecutionMetadata | undefined | Promise<RunExecutionMetadata | undefined>;
  /** Writes the final record (called once per run, as the original did). */
  writeMetadata?: (record: RunExecutionMetadata) => void | Promise<void>;
}

/** A store and tracker that call the given functions instead of the configured ones. */
export function adaptCollaborators(
  store: RunStore,
  tracker: Tracker | undefined,
  seed: SeedCollaborators,
): { store: RunStore; tracker: Tracker | undefined } {
  const { writeMetadata, loadMetadata, trackRun } = seed;
  return {
    store: {
      description: writeMetadata ? 'writeMetadata()' : store.description,
      // The original wrote one record per run, at the end; with a custom writer so do we.
      begin: writeMetadata ? async () => ({ ok: true }) : (r) => store.begin(r),
      finish: writeMetadata ? async (r) => (await writeMetadata(r), { ok: true }) : (r) => store.finish(r),
      // With a custom writer there is no RUNNING record to renew.
      heartbeat: writeMetadata ? async () => undefined : (run, at) => store.heartbeat(run, at),
      requestCancel: (id, at) => store.requestCancel(id, at),
      latest: loadMetadata ? async (s) => (await loadMetadata(s)) ?? undefined : (s) => store.latest(s),
      get: (id) => store.get(id),
      list: (q) => store.list(q),
      ping: () => store.ping(),
      close: async () => {},
    },
    tracker: trackRun
      ? {
          start: async () => {},
          log: () => {},
          finish: async (record) => void (await trackRun(record.service, record)),
          close: async () => {},
        }
      : tracker,
  };
}
