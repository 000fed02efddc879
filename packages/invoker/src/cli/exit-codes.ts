// Core's error table (its errors subpath, which has no runtime dependencies) is loaded only when a
// command fails: a `pipeline list` that succeeds never reads it.
import type { errorPolicy as ErrorPolicy } from '@pipeline-invocation/core/errors';

/** Exit codes of the `pipeline` CLI (documented in the README and `pipeline --help`). */
export const EXIT = {
  OK: 0,
  /** The handler failed or timed out (its run is recorded). */
  HANDLER_FAILED: 1,
  /** Invalid input: bad arguments, bad JSON, a payload or request that fails validation. */
  INVALID_INPUT: 2,
  /** No installed plugin provides the service. */
  UNKNOWN_SERVICE: 3,
  /** The run store failed (the record is kept in the outbox when a run happened). */
  STORAGE_FAILED: 4,
  /** A plugin could not be loaded, is incompatible, or two plugins claim one service. */
  PLUGIN_FAILED: 5,
  /** A run with the same idempotency key is still running, or the key was used with another payload. */
  CONFLICT: 6,
  /**
   * The command stopped without an answer: nothing was left to run while it waited (a bug in
   * pipeline or a plugin). Set by the entry point's backstop (`bin/answer-guard.js`), never by a
   * command.
   */
  NO_ANSWER: 70,
  /** `pipeline invoke` was interrupted by SIGINT (Ctrl-C): the run is recorded CANCELLED. */
  SIGINT: 130,
  /** `pipeline invoke` was stopped by SIGTERM: the run is recorded CANCELLED. */
  SIGTERM: 143,
} as const;

/**
 * The exit code for an error that ended a command: core's one error table decides, except for
 * the CLI's own {@link UsageError} (exit code 2), which only the CLI raises.
 */
export function exitCodeFor(error: unknown): number {
  if ((error as { name?: unknown } | null)?.name === 'UsageError') return EXIT.INVALID_INPUT;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: see the top of this file
  const { errorPolicy } = require('@pipeline-invocation/core/errors') as { errorPolicy: typeof ErrorPolicy };
  return errorPolicy(error).exitCode;
}

/**
 * A command line that cannot be understood; exit code 2. The CLI's own error: it never reaches
 * a run, a router or a queue, so it has no row in core's error table.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
