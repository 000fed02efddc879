/**
 * @packageDocumentation
 * The testing kit: compose an invoker with an in-memory run store and a recording tracker in
 * one call, so a handler can be tested in three lines.
 */
import type { DependencyContainer, HandlerClass, PipelinePlugin, RunStore, Tracker } from '@pipeline-invocation/core';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { RecordingTracker, silentLogger } from '@pipeline-invocation/observability';
import { createInvoker, type Invoker, type InvokerConfig } from '../invoker';
import { checkOptionKeys } from '../seed-collaborators';

export { MemoryRunStore } from '@pipeline-invocation/storage';
export { checkPluginConformance, type ConformanceFinding, type ConformanceOptions } from './conformance';
export { RecordingTracker, type TrackerCall } from '@pipeline-invocation/observability';

/** Options of {@link createTestInvoker}. */
export interface TestInvokerOptions {
  /** Plugin objects, or modules whose `default` is one (an ES module's import of a CommonJS plugin). */
  plugins?: (PipelinePlugin | { default: PipelinePlugin })[];
  handlers?: HandlerClass[];
  /** Default: a fresh {@link MemoryRunStore}. */
  store?: RunStore;
  /** Default: a fresh {@link RecordingTracker}. */
  tracker?: Tracker;
  /** Register test doubles of your handler's collaborators. */
  register?: (container: DependencyContainer) => void;
  /** Anything else of {@link InvokerConfig} (timeouts, clock, logger...). */
  config?: Omit<InvokerConfig, 'plugins' | 'handlers' | 'store' | 'tracker' | 'register'>;
}

const TEST_INVOKER_KEYS = [
  'plugins',
  'handlers',
  'store',
  'tracker',
  'register',
  'config',
] as const satisfies readonly (keyof TestInvokerOptions)[];

/** An invoker for tests, with its store and tracker at hand. */
export interface TestInvoker<S extends RunStore = MemoryRunStore, T extends Tracker = RecordingTracker> {
  readonly invoker: Invoker;
  readonly store: S;
  readonly tracker: T;
}

/**
 * A fresh invoker (its own registry and container, nothing discovered, no outbox, silent
 * logs) with an in-memory store and a recording tracker.
 *
 * @example
 * const { invoker, store } = createTestInvoker({ handlers: [WordCount] });
 * const record = await invoker.invokePipelineHandler('word_count', { text: 'a b c' });
 * expect(record.body).toBe('3');
 */
export function createTestInvoker(options: TestInvokerOptions = {}): TestInvoker {
  // an unknown option (e.g. `staleAfterMs` here instead of in `config`) is an error, never ignored
  checkOptionKeys(options, TEST_INVOKER_KEYS, 'createTestInvoker');
  const store = (options.store ?? new MemoryRunStore()) as MemoryRunStore;
  const tracker = (options.tracker ?? new RecordingTracker()) as RecordingTracker;
  const invoker = createInvoker({
    discover: false,
    outbox: false,
    logger: silentLogger,
    storeRetryDelaysMs: [],
    env: {},
    ...options.config,
    plugins: options.plugins,
    handlers: options.handlers,
    register: options.register,
    store,
    tracker,
  });
  return { invoker, store, tracker };
}
