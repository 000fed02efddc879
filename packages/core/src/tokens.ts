import type { InjectionToken } from 'tsyringe';
import type { Clock, Logger, RunContext } from './contract';
import type { RunStore, Tracker } from './store';

/** DI token of the {@link RunStore} the executor writes records to. */
export const RUN_STORE: InjectionToken<RunStore> = Symbol.for('pipeline-invocation.RunStore');
/** DI token of the {@link Tracker} (W&B or none). */
export const TRACKER: InjectionToken<Tracker> = Symbol.for('pipeline-invocation.Tracker');
/** DI token of the root {@link Logger}; inside a run, the run-bound logger. */
export const LOGGER: InjectionToken<Logger> = Symbol.for('pipeline-invocation.Logger');
/** DI token of the {@link Clock}. */
export const CLOCK: InjectionToken<Clock> = Symbol.for('pipeline-invocation.Clock');
/** DI token of the current run's {@link RunContext} (registered in each run's child container). */
export const RUN_CONTEXT: InjectionToken<RunContext> = Symbol.for('pipeline-invocation.RunContext');
