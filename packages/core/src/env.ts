// Environment helpers shared by every package. No runtime dependencies (node:path only), so the
// light packages (observability, the plugin discovery path) can import it as
// `@pipeline-invocation/core/env` without loading zod or tsyringe.
import { resolve } from 'node:path';

/** The environment a piece of configuration is read from (`process.env` or the invoker's `env`). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The default of `PIPELINE_HOME`, relative to the working directory. */
export const DEFAULT_PIPELINE_HOME = '.pipeline';

/**
 * The one place `PIPELINE_HOME` is resolved: the folder of the SQLite run store, the outbox,
 * offline W&B runs and the handlers' data (default `.pipeline` in the working directory).
 */
export function pipelineHome(env: Env, cwd: string = process.cwd()): string {
  return resolve(cwd, env.PIPELINE_HOME || DEFAULT_PIPELINE_HOME);
}

/**
 * An environment variable a package reads, as its manifest declares it (the `env` list of the
 * `pipelineInvocation` field of a plugin's package.json). `pipeline doctor` lists declared
 * variables; the values of `secret` ones are masked there and redacted from logs, W&B and run
 * records.
 */
export interface EnvVariable {
  /** The variable's name, e.g. `PERSPECTIVE_API_KEY`. */
  readonly name: string;
  /** What it configures and its default, in one line. */
  readonly description: string;
  /** Whether its value is a secret. */
  readonly secret?: boolean;
}
