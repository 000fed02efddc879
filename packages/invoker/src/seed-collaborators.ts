import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  InvalidRequestError,
  MetadataWriteError,
  describe,
  retry,
  retryPolicyFromDelays,
  type RunExecutionMetadata,
  type RunStore,
  type Tracker,
} from '@pipeline-invocation/core';
import type { InvokeOptions } from './executor';
import { MemoryRunStore } from '@pipeline-invocation/storage';

/**
 * The original library's injectable collaborators, as plain functions, under the original's
 * names (`wandb_logger`, `load_metadata`, `write_metadata`).
 */
export interface SeedCollaborators {
  /** Called once with the final record (the original's `wandb_logger(service, metadata)`). */
  wandbLogger?: (service: string, record: RunExecutionMetadata) => void | Promise<void>;
  /** Another name of {@link SeedCollaborators.wandbLogger} (pass one of the two). */
  trackRun?: (service: string, record: RunExecutionMetadata) => void | Promise<void>;
  /**
   * Returns the previous run of a service, given to the handler as `context.previousRun`;
   * `undefined`, `null` or `{}` (what the original's loader returned) mean none.
   */
  loadMetadata?: (
    service: string,
  ) => RunExecutionMetadata | Record<string, never> | null | undefined | Promise<unknown>;
  /**
   * Writes the final record: called once per run, at its end (no RUNNING record, no
   * heartbeat). Called again only when it throws an error marked `retryable: true` (after
   * 1 s, then 2 s, by default); otherwise its failure is the caller's MetadataWriteError.
   */
  writeMetadata?: (record: RunExecutionMetadata) => void | Promise<void>;
}

/** The override names of {@link SeedCollaborators}. */
export const SEED_OVERRIDE_KEYS = ['wandbLogger', 'trackRun', 'loadMetadata', 'writeMetadata'] as const;

/**
 * Every per-call option of an invocation, by name. The type below fails to compile when
 * `InvokeOptions` gains an option missing here, so no option can be refused as unknown.
 */
export const INVOKE_OPTION_KEYS = [
  'timeoutMs',
  'idempotencyKey',
  'signal',
  'cancelGraceMs',
  'forceSignal',
  'onProgress',
  'holdUntilSettled',
  'onRunStarted',
  'scheduleId',
  'jobId',
  'traceContext',
  'spanKind',
] as const satisfies readonly (keyof InvokeOptions)[];

/** Compile-time check: `never` unless an `InvokeOptions` key is missing from {@link INVOKE_OPTION_KEYS}. */
type MissingOptionKeys = Exclude<keyof InvokeOptions, (typeof INVOKE_OPTION_KEYS)[number]>;
const everyOptionListed: MissingOptionKeys extends never ? true : MissingOptionKeys = true;
void everyOptionListed;

/** Names the original used for options, and ours. */
const SNAKE_CASE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  wandb_logger: 'wandbLogger',
  load_metadata: 'loadMetadata',
  write_metadata: 'writeMetadata',
  timeout_ms: 'timeoutMs',
  idempotency_key: 'idempotencyKey',
});

/**
 * Check the keys of an options object: an unknown key (a misspelt option, the original's
 * snake_case name) is refused, naming it and the accepted ones; `wandbLogger` and `trackRun`
 * together are refused too.
 *
 * @throws InvalidRequestError naming the key and listing the accepted keys.
 */
export function checkOptionKeys(options: unknown, accepted: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidRequestError(`${where}: the options must be an object, got ${describe(options)}.`);
  }
  // (an array only when there is an unknown key: every run passes here)
  let unknown: string[] | undefined;
  for (const key of Object.keys(options)) if (!accepted.includes(key)) (unknown ??= []).push(key);
  if (unknown) {
    const hints = unknown
      .filter((k) => SNAKE_CASE_NAMES[k])
      .map((k) => ` "${k}" is spelt "${SNAKE_CASE_NAMES[k]}" here.`);
    throw new InvalidRequestError(
      `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}.${hints.join('')} ` +
        `Accepted: ${[...accepted].sort().join(', ')}.`,
    );
  }
  const { wandbLogger, trackRun } = options as SeedCollaborators;
  if (wandbLogger && trackRun) {
    throw new InvalidRequestError(`${where}: pass wandbLogger or trackRun (two names of one option), not both.`);
  }
}

/** What {@link adaptCollaborators} needs besides the collaborators. */
export interface AdaptOptions {
  /** Delays between the attempts of a `writeMetadata` that threw an error marked `retryable: true` (ms). */
  retryDelaysMs: readonly number[];
  /**
   * Where a record `writeMetadata` could not take is saved when there is no outbox (a folder;
   * one JSON file per run): named in the MetadataWriteError.
   */
  keepDir: string | undefined;
  /** Whether the executor keeps a record in an outbox when the writer fails (then no file is written here). */
  outbox: boolean;
}

/**
 * A store and tracker that call the given functions instead of the configured ones.
 *
 * With `writeMetadata`, the run's RUNNING record, heartbeats and idempotency key live in a
 * scratch in-memory store for the call, and the final record goes to the writer, once (the
 * original wrote one record per run, at its end). The writer is called again only for an error
 * marked `retryable: true`, here; its final failure is a MetadataWriteError the store classifies
 * `unavailable`, so the lifecycle does not retry it again.
 */
export function adaptCollaborators(
  store: RunStore,
  tracker: Tracker | undefined,
  seed: SeedCollaborators,
  options: AdaptOptions,
): { store: RunStore; tracker: Tracker | undefined } {
  const { writeMetadata, loadMetadata } = seed;
  const trackRun = seed.wandbLogger ?? seed.trackRun;
  const writes: RunStore = writeMetadata ? new MemoryRunStore() : store;
  const adapted: RunStore = {
    description: writeMetadata ? 'writeMetadata()' : store.description,
    putRun: async (record, when) => {
      const result = await writes.putRun(record, when);
      // only a terminal write the lifecycle's condition let through reaches the writer, once
      if (writeMetadata && result.written && record.status !== 'RUNNING')
        await writeOnce(writeMetadata, record, options);
      return result;
    },
    updateRun: (run, patch, when) => writes.updateRun(run, patch, when),
    readRun: (run) => writes.readRun(run),
    putKey: (item, when) => writes.putKey(item, when),
    updateKey: (key, patch, when) => writes.updateKey(key, patch, when),
    deleteKey: (key, when) => writes.deleteKey(key, when),
    readKey: (key) => writes.readKey(key),
    classifyError: (error) =>
      (error as { name?: unknown } | null)?.name === 'MetadataWriteError' ? 'unavailable' : store.classifyError(error),
    latest: loadMetadata ? async (s) => asPreviousRun(await loadMetadata(s)) : (s) => store.latest(s),
    get: (id) => store.get(id),
    list: (q) => store.list(q),
    ping: () => store.ping(),
    // the configured store is the invoker's to close
    close: async () => {},
  };
  return {
    store: adapted,
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

/**
 * Call the writer; again after each delay only while it throws an error marked
 * `retryable: true`. On failure, without an outbox the record is saved in a file first, and
 * the error names it.
 */
async function writeOnce(
  writeMetadata: (record: RunExecutionMetadata) => void | Promise<void>,
  record: RunExecutionMetadata,
  options: AdaptOptions,
): Promise<void> {
  try {
    // core's one retry policy, with the configured delays; only an error marked retryable is retried
    await retry(async () => writeMetadata(record), {
      policy: retryPolicyFromDelays(options.retryDelaysMs),
      classify: (error) => ({ retryable: (error as { retryable?: unknown } | null)?.retryable === true }),
    });
  } catch (error) {
    const kept = options.outbox || !options.keepDir ? '' : keepInFile(record, options.keepDir);
    throw new MetadataWriteError(record.service, error, kept, { record });
  }
}

/** Save `record` as `<dir>/<run id>.json`; returns the sentence the error carries. */
function keepInFile(record: RunExecutionMetadata, dir: string): string {
  const file = join(dir, `${record.run_id}.json`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    return `The record of run ${record.run_id} was saved in ${file} (the outbox is off).`;
  } catch (error) {
    return `Saving the record of run ${record.run_id} in ${file} failed too (${describe(error)}).`;
  }
}

/** The original's loader returned `{}` for "no previous run". */
function asPreviousRun(value: unknown): RunExecutionMetadata | undefined {
  if (!value || typeof value !== 'object' || Object.keys(value).length === 0) return undefined;
  return value as RunExecutionMetadata;
}
