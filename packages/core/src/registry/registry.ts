import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { createContainer } from '../container';
import type { z } from 'zod';
import type { PipelineHandler } from '../contract';
import { DuplicateServiceError, IncompatiblePluginError, PluginLoadError, UnknownServiceError } from '../errors';
import { LOGGER, RUN_CONTEXT } from '../tokens';
import { CONTRACT_VERSION, isContractCompatible } from '../version';
import { getHandlerDefinition, type HandlerClass } from './handler-decorator';
import { explainNotAPlugin, type PipelinePlugin } from './plugin';

/** Who registered a service: shown in errors, `pipeline list` and run records. */
export interface HandlerSource {
  readonly package: string;
  readonly version: string;
}

/** Builds a handler for one run; called lazily, on every lookup. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HandlerFactory = (container: DependencyContainer) => PipelineHandler<any> | Promise<PipelineHandler<any>>;

/**
 * The decorator `PipelineHandlerRegistry.register(service)` returns: for a static method or a
 * function that builds the handler (the seed's `@PipelineHandlerRegistry.register("svc")`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RegistryDecorator = (target: any, key?: any, descriptor?: PropertyDescriptor) => any;

/** Options of {@link PipelineHandlerRegistry.register} and friends. */
export interface RegisterOptions {
  /** Payload schema, checked before the handler runs. */
  payload?: z.ZodType;
  /** Who registers it (defaults to `{ package: "(inline)", version: "0.0.0" }`). */
  source?: HandlerSource;
  /**
   * Replace an existing registration instead of throwing {@link DuplicateServiceError} (tests).
   * Through the static facade it also replaces the handler of an installed plugin that provides
   * the service (the original's `inject_handler_for_testing`), with a debug log line.
   */
  override?: boolean;
  /**
   * The container the handler's collaborators come from (a plugin's own, where its `register`
   * ran): each run resolves the handler from a child of it. Default: the run's container as given.
   */
  container?: DependencyContainer;
}

/**
 * What the static facade asks about services it does not hold itself: the installed plugins,
 * as the invoker behind the top-level functions sees them (attached by
 * `@pipeline-invocation/invoker` when it is imported).
 */
export interface ServiceProvider {
  /** Every service it can run (facade registrations included), sorted. */
  listServices(): string[];
  /** The handler of `service`, importing its plugin when needed. */
  resolveHandler(service: string, container?: DependencyContainer): Promise<ResolvedHandler>;
}

/** A handler ready to run, with what the executor needs to know about it. */
export interface ResolvedHandler {
  readonly service: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly handler: PipelineHandler<any>;
  readonly payload: z.ZodType | undefined;
  readonly source: HandlerSource;
}

interface Entry {
  readonly payload: z.ZodType | undefined;
  readonly source: HandlerSource;
  readonly factory: HandlerFactory;
  /** Registered with `override: true`: replaces an installed plugin's handler (tests). */
  readonly override: boolean;
  /** The plugin's own container, when the handler comes from a plugin. */
  readonly container: DependencyContainer | undefined;
}

/**
 * Registered in each plugin container, naming it: a run container that already descends from the
 * plugin's (an executor that starts the run from {@link PipelineHandlerRegistry.containerOf})
 * needs no bridge.
 */
const PLUGIN_SCOPE = Symbol.for('pipeline-invocation.PluginScope');

/** The per-run values an executor registers in the run's container (carried into a plugin's scope). */
const RUN_TOKENS: readonly InjectionToken<unknown>[] = [RUN_CONTEXT, LOGGER];

const INLINE_SOURCE: HandlerSource = Object.freeze({ package: '(inline)', version: '0.0.0' });
const describeSource = (s: HandlerSource) => `${s.package}@${s.version}`;

/**
 * Maps service names to handlers. Create one per invoker (or per test): there is no hidden
 * global state. {@link PipelineHandlerRegistry.default} and the static methods are a facade
 * over one default instance, for code written against the original Python API.
 *
 * @example
 * const registry = new PipelineHandlerRegistry();
 * registry.installPlugin(myPlugin);
 * const { handler } = await registry.getHandler('my_service', container.createChildContainer());
 */
export class PipelineHandlerRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Entries taken from another registry ({@link adopt}); they shadow {@link entries}. */
  private readonly adopted = new Map<string, Entry>();
  private provider: (() => ServiceProvider) | undefined;

  /** Register a lazy factory for `service`. */
  register(service: string, factory: HandlerFactory, options: RegisterOptions = {}): this {
    if (typeof service !== 'string' || service.trim() === '') {
      throw new TypeError('register(service, factory): service must be a non-empty string');
    }
    if (typeof factory !== 'function') {
      throw new TypeError(`register("${service}", factory): factory must be a function`);
    }
    const source = options.source ?? INLINE_SOURCE;
    const existing = this.entries.get(service);
    if (existing && !options.override) {
      throw new DuplicateServiceError(service, describeSource(existing.source), describeSource(source));
    }
    this.entries.set(service, {
      payload: options.payload,
      source,
      factory,
      override: options.override === true,
      container: options.container,
    });
    return this;
  }

  /**
   * Remove the registration of `service` (the original's `reset_test_handlers`, for one service).
   * Returns whether there was one.
   */
  unregister(service: string): boolean {
    return this.entries.delete(service);
  }

  /** Register a class decorated with `@pipelineHandler`; it is resolved from the run's container. */
  registerClass(handlerClass: HandlerClass, options: Omit<RegisterOptions, 'payload'> = {}): this {
    const definition = getHandlerDefinition(handlerClass);
    if (!definition) {
      throw new TypeError(`${handlerClass?.name || 'class'} is not decorated with @pipelineHandler(service)`);
    }
    return this.register(definition.service, (c) => c.resolve(handlerClass), {
      ...options,
      payload: definition.payload,
    });
  }

  /**
   * Install every handler of a plugin object (checks its brand and contract version).
   * The caller runs `plugin.register(container)` on the plugin's own container and passes that
   * container as `options.container`: each run of the plugin's handlers resolves from a child of it.
   *
   * @throws PluginLoadError when `plugin` is not a branded plugin object.
   * @throws IncompatiblePluginError when it was built for another contract major version.
   */
  installPlugin(plugin: PipelinePlugin, options: Omit<RegisterOptions, 'payload'> = {}): this {
    const packageName = options.source?.package ?? '(inline plugin)';
    const problem = explainNotAPlugin(plugin);
    if (problem) throw new PluginLoadError(packageName, problem);
    if (!isContractCompatible(plugin.contract)) {
      throw new IncompatiblePluginError(packageName, plugin.contract, CONTRACT_VERSION);
    }
    for (const handlerClass of plugin.handlers) this.registerClass(handlerClass, options);
    return this;
  }

  /** Registered service names, sorted. */
  listServices(): string[] {
    return [...new Set([...this.entries.keys(), ...this.adopted.keys()])].sort();
  }

  /** Whether `service` is registered. */
  has(service: string): boolean {
    return this.entries.has(service) || this.adopted.has(service);
  }

  /** Whether `service` is registered here itself (not adopted from another registry). */
  hasOwn(service: string): boolean {
    return this.entries.has(service);
  }

  /** Whether `service` was registered with `override: true` (a test's replacement). */
  isOverride(service: string): boolean {
    return this.entryOf(service)?.override === true;
  }

  /** The payload schema of `service`, if it declared one. */
  payloadSchemaOf(service: string): z.ZodType | undefined {
    return this.entryOf(service)?.payload;
  }

  /** Who registered `service`, or `undefined`. */
  sourceOf(service: string): HandlerSource | undefined {
    return this.entryOf(service)?.source;
  }

  /**
   * The container the handler of `service` resolves its collaborators from: its plugin's own
   * (where `plugin.register` ran), or `undefined` for a handler registered without one. An
   * executor starts each run's container as a child of it.
   */
  containerOf(service: string): DependencyContainer | undefined {
    return this.entryOf(service)?.container;
  }

  private entryOf(service: string): Entry | undefined {
    return this.adopted.get(service) ?? this.entries.get(service);
  }

  /**
   * Build the handler of `service` from `container` (use a child container per run).
   * Errors thrown by a factory propagate unchanged.
   *
   * @throws UnknownServiceError only when `service` is not registered.
   */
  async getHandler(service: string, container: DependencyContainer): Promise<ResolvedHandler> {
    const entry = this.entryOf(service);
    if (!entry) throw new UnknownServiceError(service, this.listServices());
    const handler = await entry.factory(entry.container ? runScope(entry.container, container) : container);
    if (!handler || typeof handler.handle !== 'function') {
      throw new TypeError(`The factory of "${service}" returned no object with a handle(event, context) method`);
    }
    return { service, handler, payload: entry.payload, source: entry.source };
  }

  /**
   * Serve `service` as `other` registers it now (same factory, schema and source), ahead of this
   * registry's own registration; when `other` no longer has it, stop. Returns whether `other` has
   * it. The invoker uses it to serve services registered on the default registry through the
   * static facade, following that registry as a test registers and unregisters.
   */
  adopt(other: PipelineHandlerRegistry, service: string): boolean {
    const entry = other.entries.get(service);
    if (entry) this.adopted.set(service, entry);
    else this.adopted.delete(service);
    return Boolean(entry);
  }

  /** Whether `service` is served as adopted from another registry (see {@link adopt}). */
  isAdopted(service: string): boolean {
    return this.adopted.has(service);
  }

  /**
   * Let `provider` answer for the services this registry does not hold: the static facade then
   * sees every installed plugin. `@pipeline-invocation/invoker` attaches its default invoker to
   * {@link PipelineHandlerRegistry.default} (lazily: nothing is discovered until asked).
   */
  attachProvider(provider: () => ServiceProvider): void {
    this.provider = provider;
  }

  /** The default registry behind the static facade. */
  static readonly default = new PipelineHandlerRegistry();

  /**
   * Seed-compatible: register a lazy factory in the default registry, which the top-level
   * `invokePipelineHandler` and `routeAndRunIntegrationRequest` serve. Without a factory it is
   * the seed's decorator form, for a static method or a function that builds the handler:
   *
   * @example
   * class Factories {
   *   \@PipelineHandlerRegistry.register('word_count')
   *   static wordCount() { return new WordCount(); }
   * }
   * PipelineHandlerRegistry.register('echo')(() => new Echo()); // a plain function
   */
  static register(service: string, factory: HandlerFactory, options?: RegisterOptions): PipelineHandlerRegistry;
  static register(service: string, options?: RegisterOptions): RegistryDecorator;
  static register(
    service: string,
    factoryOrOptions?: HandlerFactory | RegisterOptions,
    options?: RegisterOptions,
  ): PipelineHandlerRegistry | RegistryDecorator {
    const registry = PipelineHandlerRegistry.default;
    if (typeof factoryOrOptions === 'function') return registry.register(service, factoryOrOptions, options);
    const decoratorOptions = factoryOrOptions;
    return ((target: unknown, key?: unknown, descriptor?: PropertyDescriptor) => {
      // Legacy (experimentalDecorators) method decorator: (class, name, descriptor).
      if (descriptor && typeof descriptor.value === 'function') {
        const method = descriptor.value as HandlerFactory;
        registry.register(service, (c) => method.call(target, c), decoratorOptions);
        return descriptor;
      }
      // A plain function, or a TC39 method decorator: (method, context).
      if (typeof target === 'function') {
        registry.register(service, target as HandlerFactory, decoratorOptions);
        return target;
      }
      throw new TypeError(
        `@PipelineHandlerRegistry.register("${service}") decorates a static method or a function returning the handler`,
      );
    }) as RegistryDecorator;
  }

  /**
   * Seed-compatible: every service the top-level functions can run, sorted: those registered
   * through the facade and, once `@pipeline-invocation/invoker` is imported, every installed
   * plugin's (from their manifests, without importing them).
   */
  static listServices(): string[] {
    const registry = PipelineHandlerRegistry.default;
    const provided = registry.provider?.().listServices() ?? [];
    return [...new Set([...registry.listServices(), ...provided])].sort();
  }

  /**
   * Seed-compatible: the handler the top-level functions would run for `service` (built in a
   * fresh container by default): a facade registration, else an installed plugin's (imported
   * now). A facade registration for a plugin's service wins only with `{ override: true }`
   * (else DuplicateServiceError), as in an invocation.
   *
   * @throws UnknownServiceError when neither the facade nor an installed plugin has it.
   */
  static async getHandler(service: string, container?: DependencyContainer): Promise<ResolvedHandler> {
    const registry = PipelineHandlerRegistry.default;
    if (registry.provider) return registry.provider().resolveHandler(service, container);
    return registry.getHandler(service, container ?? createContainer());
  }

  /**
   * Seed-compatible: remove a facade registration (the original's `reset_test_handlers`, one
   * service at a time); the installed plugin's handler, if any, serves it again.
   */
  static unregister(service: string): boolean {
    return PipelineHandlerRegistry.default.unregister(service);
  }
}

/**
 * The container a plugin's handler resolves from for one run: `run` itself when it already
 * descends from the plugin's container; else a child of the plugin's container carrying the
 * run's own values (its context and run-bound logger).
 */
function runScope(pluginContainer: DependencyContainer, run: DependencyContainer): DependencyContainer {
  if (run.isRegistered(PLUGIN_SCOPE, true) && run.resolve(PLUGIN_SCOPE) === pluginContainer) return run;
  const scope = pluginContainer.createChildContainer();
  for (const token of RUN_TOKENS) {
    if (run.isRegistered(token, false)) scope.register(token, { useValue: run.resolve(token) });
  }
  return scope;
}

/**
 * A container of a plugin's own: a child of `parent` (the host's), marked as the plugin's, so
 * its `register` cannot rebind what other plugins and the host resolve.
 */
export function createPluginContainer(parent: DependencyContainer): DependencyContainer {
  const container = parent.createChildContainer();
  container.register(PLUGIN_SCOPE, { useValue: container });
  return container;
}
