import type { DependencyContainer } from 'tsyringe';
import { createContainer } from '../container';
import type { z } from 'zod';
import type { PipelineHandler } from '../contract';
import { DuplicateServiceError, IncompatiblePluginError, PluginLoadError, UnknownServiceError } from '../errors';
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
  /** Replace an existing registration instead of throwing {@link DuplicateServiceError} (tests). */
  override?: boolean;
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
}

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
    this.entries.set(service, { payload: options.payload, source, factory });
    return this;
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
   * The caller runs `plugin.register(container)` on its own container.
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
    return [...this.entries.keys()].sort();
  }

  /** Whether `service` is registered. */
  has(service: string): boolean {
    return this.entries.has(service);
  }

  /** The payload schema of `service`, if it declared one. */
  payloadSchemaOf(service: string): z.ZodType | undefined {
    return this.entries.get(service)?.payload;
  }

  /** Who registered `service`, or `undefined`. */
  sourceOf(service: string): HandlerSource | undefined {
    return this.entries.get(service)?.source;
  }

  /**
   * Build the handler of `service` from `container` (use a child container per run).
   * Errors thrown by a factory propagate unchanged.
   *
   * @throws UnknownServiceError only when `service` is not registered.
   */
  async getHandler(service: string, container: DependencyContainer): Promise<ResolvedHandler> {
    const entry = this.entries.get(service);
    if (!entry) throw new UnknownServiceError(service, this.listServices());
    const handler = await entry.factory(container);
    if (!handler || typeof handler.handle !== 'function') {
      throw new TypeError(`The factory of "${service}" returned no object with a handle(event, context) method`);
    }
    return { service, handler, payload: entry.payload, source: entry.source };
  }

  /**
   * Copy the registration of `service` from `other` into this registry (same factory, schema
   * and source). Returns whether `other` had it. The invoker uses it to serve services
   * registered on the default registry through the static facade.
   */
  adopt(other: PipelineHandlerRegistry, service: string): boolean {
    const entry = other.entries.get(service);
    if (!entry || this.entries.has(service)) return Boolean(entry);
    this.entries.set(service, entry);
    return true;
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

  /** Seed-compatible: sorted services of the default registry. */
  static listServices(): string[] {
    return PipelineHandlerRegistry.default.listServices();
  }

  /** Seed-compatible: a handler from the default registry (built in a fresh container by default). */
  static getHandler(service: string, container: DependencyContainer = createContainer()) {
    return PipelineHandlerRegistry.default.getHandler(service, container);
  }
}
