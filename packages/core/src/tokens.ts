import type { InjectionToken } from 'tsyringe';
import type { Clock, Logger, RunContext } from './contract';
import type { Env } from './env';

/** DI token of the root {@link Logger}; inside a run, the run-bound logger. */
export const LOGGER: InjectionToken<Logger> = Symbol.for('pipeline-invocation.Logger');
/** DI token of the invoker's {@link Clock} (`InvokerConfig.clock`): handlers read the time from it, so a test can pin it. */
export const CLOCK: InjectionToken<Clock> = Symbol.for('pipeline-invocation.Clock');
/**
 * DI token of the environment the invoker was given (`InvokerConfig.env`, default `process.env`).
 * Plugins read their configuration from it, never from `process.env` directly, so a test or a
 * host that passes its own environment configures them too.
 */
export const ENV: InjectionToken<Env> = Symbol.for('pipeline-invocation.Env');
/** DI token of the current run's {@link RunContext} (registered in each run's child container). */
export const RUN_CONTEXT: InjectionToken<RunContext> = Symbol.for('pipeline-invocation.RunContext');
