import {
  CLOCK,
  ENV,
  DuplicateServiceError,
  InvokerClosedError,
  LOGGER,
  PipelineHandlerRegistry,
  PluginLoadError,
  UnknownServiceError,
  describe,
  getHandlerDefinition,
  createPluginContainer,
  parseIntegrationRequest,
  parseWith,
  createContainer,
  statusCodeForError,
  DEFAULT_RETRY_POLICY,
  RunLifecycle,
  retryPolicyFromDelays,
  toClock,
  type Clock,
  type RetryPolicy,
  type DependencyContainer,
  type HandlerClass,
  type IntegrationRequest,
  type IntegrationResponse,
  type Logger,
  type PipelinePlugin,
  type ResolvedHandler,
  type RunExecutionMetadata,
  type RunStore,
  type Tracker,
} from '@pipeline-invocation/core';
import { join } from 'node:path';
import { Outbox, createRunStore, outboxFile, type StorageConfig } from '@pipeline-invocation/storage';
import { Redactor, createLogger, createTracker, type TrackingConfig } from '@pipeline-invocation/observability';
import { discoverPlugins, servicesOf, type DiscoveredPlugin, type DiscoveryProblem } from './discovery/manifest';
import { loadPlugin, unwrapDefault } from './discovery/plugin-loader';
import { DEFAULT_STORE_RETRY_DELAYS_MS, Executor, type InvokeOptions } from './executor';
import { readHostConfig, type LifecycleConfig } from './config';
import { inRunSpan, inSpan, type Span } from './telemetry';
import {
  INVOKE_OPTION_KEYS,
  SEED_OVERRIDE_KEYS,
  adaptCollaborators,
  checkOptionKeys,
  type SeedCollaborators,
} from './seed-collaborators';
import { recordHostRegistrations, type HostRegistrations } from './host-registrations';
import { recordLocationOf } from './record-location';

/** Configuration of {@link createInvoker}; everything is optional. */
export interface InvokerConfig {
  /** Folder of the host package.json whose dependencies are searched for plugins (default: `PIPELINE_ROOT`, else the nearest to cwd). */
  root?: string;
  /** Discover installed plugins from package.json dependencies (default true). */
  discover?: boolean;
  /** Only these plugin packages. */
  include?: string[];
  /** Never these plugin packages. */
  exclude?: string[];
  /**
   * Plugin objects given directly (for bundled apps); installed at once. A module whose
   * `default` is the plugin (what an ES module gets from `import plugin from '<CommonJS plugin>'`)
   * is accepted too.
   */
  plugins?: (PipelinePlugin | { default: PipelinePlugin })[];
  /** Handler classes given directly (tests). */
  handlers?: HandlerClass[];
  /**
   * Services registered here are served when no plugin or explicit handler provides them. The
   * top-level functions' default invoker passes `PipelineHandlerRegistry.default`, so services
   * registered through the seed's static facade (`PipelineHandlerRegistry.register`) run.
   */
  fallbackRegistry?: PipelineHandlerRegistry;
  /**
   * Register your own collaborators. The composition order, the same for plugins passed in
   * `plugins` and plugins discovered from package.json (installed on first use): the invoker's
   * own (`LOGGER`, `CLOCK`, `ENV`), then each plugin's `register` in a container of its own,
   * then this, last, so what you register wins over a plugin's registration of the same token.
   */
  register?: (container: DependencyContainer) => void;
  /** Run store (default: from PIPELINE_STORE, SQLite under PIPELINE_HOME). Yours to close: `close()` leaves it open. */
  store?: RunStore;
  /**
   * Tracker (default: from WANDB_* variables); `false`: no tracking calls at all. One you pass is
   * yours to close: `close()` only flushes it.
   */
  tracker?: Tracker | false;
  logger?: Logger;
  /**
   * The one clock (`CLOCK`): a whole `Clock`, or only `{ now }` (the system's timers are used
   * with it). Tests usually leave it and use jest's fake timers, which drive the system clock.
   */
  clock?: Partial<Clock>;
  /** Where records wait when the store cannot take them (default `$PIPELINE_HOME/outbox.jsonl`); `false`: none. */
  outbox?: Outbox | false;
  /**
   * `false`: this invoker makes no OpenTelemetry spans or metrics, even when an SDK is registered.
   * Default: runs are spans and metrics through `@opentelemetry/api` (no-ops until an SDK is
   * registered, e.g. by `startTelemetry`).
   */
  telemetry?: boolean;
  /** Environment to read configuration from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Default handler timeout in ms (default: `PIPELINE_TIMEOUT_MS`, else none). */
  timeoutMs?: number;
  /** How often a RUNNING record's heartbeat is renewed (ms; default `PIPELINE_HEARTBEAT_MS`, else 10 000). */
  heartbeatMs?: number;
  /**
   * A RUNNING run whose heartbeat is older than this (ms) is taken for crashed: the next run with
   * its idempotency key marks it CRASHED (default `PIPELINE_STALE_AFTER_MS`, else 60 000).
   */
  staleAfterMs?: number;
  /** How long a cancelled handler may take to settle (ms; default `PIPELINE_CANCEL_GRACE_MS`, else 10 000). */
  cancelGraceMs?: number;
  /** After a plugin import fails, the next attempt waits at least this long (ms; default 5 000). */
  pluginRetryMs?: number;
  /** Delays between store write attempts (ms; default [1000, 2000], as the original). */
  storeRetryDelaysMs?: number[];
}

/**
 * Every option of {@link InvokerConfig}, by name: an unknown one (a misspelt option, or the
 * original's `write_metadata`/`writeMetadata`, which are per-call overrides here) is refused.
 * The type check below fails to compile when `InvokerConfig` gains an option missing here.
 */
export const INVOKER_CONFIG_KEYS = [
  'root',
  'discover',
  'include',
  'exclude',
  'plugins',
  'handlers',
  'fallbackRegistry',
  'register',
  'store',
  'tracker',
  'logger',
  'clock',
  'outbox',
  'telemetry',
  'env',
  'timeoutMs',
  'heartbeatMs',
  'staleAfterMs',
  'cancelGraceMs',
  'pluginRetryMs',
  'storeRetryDelaysMs',
] as const satisfies readonly (keyof InvokerConfig)[];
type MissingConfigKeys = Exclude<keyof InvokerConfig, (typeof INVOKER_CONFIG_KEYS)[number]>;
const everyConfigKeyListed: MissingConfigKeys extends never ? true : MissingConfigKeys = true;
void everyConfigKeyListed;

/** One import of a plugin package: its outcome, and when it failed (for the retry back-off). */
interface PluginLoad {
  readonly promise: Promise<void>;
  readonly attempt: number;
  failedAtMs?: number;
}

/** Time allowed for one store write attempt in {@link Invoker.finalWriteBudgetMs} (ms). */
export const WRITE_ATTEMPT_ALLOWANCE_MS = 500;

/** A service and who provides it. */
export interface ServiceInfo {
  readonly service: string;
  readonly package: string;
  readonly version: string;
}

interface Runtime {
  readonly store: RunStore;
  readonly runLifecycle: RunLifecycle;
  readonly tracker: Tracker | undefined;
  readonly outbox: Outbox | undefined;
  readonly executor: Executor;
  readonly tableName: string;
}

/**
 * The composition root: a registry, a DI container, the run store, the tracker and the
 * installed plugins. Create one with {@link createInvoker}; close it when done.
 */
export class Invoker {
  readonly registry = new PipelineHandlerRegistry();
  readonly container: DependencyContainer = createContainer();
  readonly logger: Logger;
  readonly redactor: Redactor;
  private readonly discovered: Map<string, DiscoveredPlugin[]>;
  /** Manifest problems of declared dependencies (reported by `pipeline list` and `doctor`). */
  readonly discoveryProblems: readonly DiscoveryProblem[];
  private readonly loads = new Map<string, PluginLoad>();
  private runtime: Promise<Runtime> | undefined;
  /** Set by the first `close()`: the invoker refuses further calls. */
  private closing: Promise<void> | undefined;
  /** The host's `register`, applied again in each plugin's container (the host wins). */
  private readonly hostRegistrations: HostRegistrations;
  /** The lifecycle settings in effect (validated once, here). */
  readonly lifecycle: LifecycleConfig;
  private readonly storage: StorageConfig;
  private readonly tracking: TrackingConfig;

  /**
   * Reads and checks the whole configuration once, here: storage, tracking, the run lifecycle
   * and logging, from `config.env` (default `process.env`).
   *
   * @throws ConfigError naming the first invalid variable, its value and what is allowed
   * (`pipeline doctor` lists every one).
   */
  constructor(private readonly config: InvokerConfig = {}) {
    checkOptionKeys(config, INVOKER_CONFIG_KEYS, 'createInvoker');
    const env = config.env ?? process.env;
    // PIPELINE_HOME starts at the project's folder: `config.root` when given, as discovery's
    const settings = readHostConfig(config.root ? { ...env, PIPELINE_ROOT: config.root } : env, process.cwd(), {
      timeoutMs: config.timeoutMs,
      heartbeatMs: config.heartbeatMs,
      staleAfterMs: config.staleAfterMs,
      cancelGraceMs: config.cancelGraceMs,
    });
    this.lifecycle = settings.lifecycle;
    this.storage = settings.storage;
    this.tracking = settings.tracking;
    const discovery =
      config.discover === false
        ? { plugins: [], problems: [] }
        : discoverPlugins({
            root: config.root ?? (env.PIPELINE_ROOT || undefined),
            include: config.include,
            exclude: config.exclude,
          });
    // the secrets plugins declare in their manifests are redacted like the host's own
    const secretEnvNames = discovery.plugins.flatMap((p) => p.env.filter((v) => v.secret).map((v) => v.name));
    this.redactor = new Redactor(env, [], { secretEnvNames });
    this.logger = config.logger ?? createLogger({ redactor: this.redactor, env });
    this.discovered = servicesOf(discovery.plugins);
    this.discoveryProblems = discovery.problems;
    this.container.register(LOGGER, { useValue: this.logger });
    this.container.register(CLOCK, { useValue: this.clock });
    this.container.register(ENV, { useValue: env });
    // One composition order (see InvokerConfig.register): the invoker's own, each plugin's own
    // in its container, the host's last.
    this.hostRegistrations = recordHostRegistrations(this.container, config.register);
    for (const plugin of config.plugins ?? []) {
      this.install(unwrapDefault(plugin) as PipelinePlugin, { package: '(explicit plugin)', version: '0.0.0' });
    }
    for (const handler of config.handlers ?? []) this.registry.registerClass(handler);
  }

  /** Every service this invoker can run (installed plugins from their manifests, plus explicit ones), sorted. */
  listServices(): string[] {
    const fallback = this.config.fallbackRegistry?.listServices() ?? [];
    return [...new Set([...this.registry.listServices(), ...this.discovered.keys(), ...fallback])].sort();
  }

  /**
   * The node options the installed plugin providing `service` asks runs to start with
   * (`nodeOptions` in its manifest; none for a service no manifest declares).
   */
  nodeOptionsOf(service: string): readonly string[] {
    return [...new Set((this.discovered.get(service) ?? []).flatMap((plugin) => plugin.nodeOptions ?? []))];
  }

  /** Services with the package that provides each (a service claimed twice is listed twice). */
  describeServices(): ServiceInfo[] {
    const rows: ServiceInfo[] = [];
    for (const service of this.listServices()) {
      const claims = this.discovered.get(service);
      if (claims && !this.registry.has(service)) {
        rows.push(...claims.map((p) => ({ service, package: p.packageName, version: p.version })));
      } else {
        const source = (this.registry.sourceOf(service) ?? this.config.fallbackRegistry?.sourceOf(service))!;
        rows.push({ service, package: source.package, version: source.version });
      }
    }
    return rows;
  }

  /**
   * Run `service` with `payload` and return the run's record. A handler that fails or times
   * out does not throw: its record says FAILED / TIMED_OUT (status 500 / 504).
   *
   * A replayed SUCCEEDED run comes back with `replayed: true`; a cancelled run is recorded
   * CANCELLED (499), not thrown.
   *
   * @throws InvalidRequestError, UnknownServiceError, IncompatiblePluginError, PluginLoadError,
   *   DuplicateServiceError, RunConflictError, IdempotencyKeyMismatchError, AbortError (the
   *   signal was aborted before the run started), MetadataWriteError.
   * @example
   * const record = await invoker.invokePipelineHandler('ml_inference_perspective_api', { run_type: 'prod' });
   */
  invokePipelineHandler(
    service: string,
    payload: unknown,
    requestMetadata: unknown = {},
    options: InvokeOptions = {},
  ): Promise<RunExecutionMetadata> {
    // (not an async method: its run's promise is returned as it is, not wrapped in another; what
    // throws here is a rejection all the same)
    try {
      if (this.closing) this.assertOpen(`invokePipelineHandler("${service}")`); // (its text only when it throws)
      checkOptionKeys(options, INVOKE_OPTION_KEYS, 'invokePipelineHandler');
      // the original's `request_metadata=None` default: null means none, as undefined does
      const request = parseIntegrationRequest({ service, payload, metadata: requestMetadata ?? {} });
      return this.run(request, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The executor: run a request. `overrides` takes the original library's three collaborators
   * under its names (`wandbLogger`, `loadMetadata`, `writeMetadata`; `trackRun` is another name
   * of `wandbLogger`), for callers who do not use DI, and any {@link InvokeOptions}.
   *
   * A `writeMetadata` is called once per run with the final record, again only when it throws
   * an error marked `retryable: true`; when it fails, the record is kept (in the outbox, else in
   * a file under `PIPELINE_HOME/unwritten-records/`) and one MetadataWriteError says where.
   *
   * @throws InvalidRequestError for an unknown override key (naming it and the accepted ones),
   *   and whatever {@link invokePipelineHandler} throws.
   */
  async runIntegrationRequest(
    request: IntegrationRequest | unknown,
    overrides: SeedCollaborators & InvokeOptions = {},
  ): Promise<RunExecutionMetadata> {
    this.assertOpen('runIntegrationRequest()');
    checkOptionKeys(overrides, [...SEED_OVERRIDE_KEYS, ...INVOKE_OPTION_KEYS], 'runIntegrationRequest');
    const parsed = parseIntegrationRequest(request);
    const { trackRun, wandbLogger, loadMetadata, writeMetadata, ...options } = overrides;
    if (!trackRun && !wandbLogger && !loadMetadata && !writeMetadata) return this.run(parsed, options);
    await this.ensureService(parsed.service);
    const runtime = await this.ready('runIntegrationRequest()');
    const adapted = adaptCollaborators(
      runtime.store,
      runtime.tracker,
      { trackRun, wandbLogger, loadMetadata, writeMetadata },
      {
        retryDelaysMs: this.config.storeRetryDelaysMs ?? DEFAULT_STORE_RETRY_DELAYS_MS,
        keepDir: join(this.storage.home, 'unwritten-records'),
        outbox: runtime.outbox !== undefined,
      },
    );
    const executor = this.executorFor(adapted.store, adapted.tracker, runtime.outbox, recordLocationOf(adapted.store));
    return executor.execute(parsed, options);
  }

  /**
   * The router: never throws. Every outcome, including invalid input and unknown services,
   * becomes `{service, timestamp, status_code, body}` (status codes from core's table).
   */
  async routeAndRunIntegrationRequest(request: unknown, options: InvokeOptions = {}): Promise<IntegrationResponse> {
    try {
      this.assertOpen('routeAndRunIntegrationRequest()');
      checkOptionKeys(options, INVOKE_OPTION_KEYS, 'routeAndRunIntegrationRequest');
      const record = await this.run(parseIntegrationRequest(request), options);
      return {
        service: record.service,
        timestamp: record.ended_at ?? record.timestamp,
        status_code: record.status_code,
        body: record.body,
      };
    } catch (error) {
      const service = (request as { service?: unknown } | null)?.service;
      return {
        service: typeof service === 'string' ? service : '',
        timestamp: new Date().toISOString(),
        status_code: statusCodeForError(error),
        body: this.redactor.redactString(describe(error)),
      };
    }
  }

  /**
   * The longest the end of a run can take once its handler has stopped (ms): every store write
   * attempt (an allowance of {@link WRITE_ATTEMPT_ALLOWANCE_MS} each) with the retry delays
   * between them, plus, when W&B tracking is on, what `flushTracking` may wait: the init timeout
   * (W&B's start-up overlaps the handler, but a handler that ends first waits for it) and the
   * finish timeout. A caller with a hard deadline (Lambda) must stop the handler at least this
   * long before it.
   */
  finalWriteBudgetMs(): number {
    const delays = this.config.storeRetryDelaysMs ?? DEFAULT_STORE_RETRY_DELAYS_MS;
    const writes = delays.reduce((sum, d) => sum + d, 0) + (delays.length + 1) * WRITE_ATTEMPT_ALLOWANCE_MS;
    // A tracker given in the config is the caller's to bound; the W&B tracker has its timeouts.
    if (this.config.tracker !== undefined) return writes;
    const tracking = this.tracking;
    if (tracking.mode === 'online') return writes + tracking.initTimeoutMs + tracking.finishTimeoutMs;
    return writes + (tracking.mode === 'offline' ? tracking.finishTimeoutMs : 0);
  }

  /** The run store in use (opened on first use). */
  async store(): Promise<RunStore> {
    return (await this.ready('store()')).store;
  }

  /** The outbox in use, if any. */
  async outbox(): Promise<Outbox | undefined> {
    return (await this.ready('outbox()')).outbox;
  }

  /**
   * Check, without running anything, that `service` exists and accepts `payload` (its plugin is
   * loaded and the handler's payload schema applied): what a schedule or a queue checks before
   * storing a request for later.
   *
   * Returns the validated payload (with the schema's defaults): the queue hashes it for the
   * idempotency key, so the queue and the run store compare the same hash.
   *
   * @throws UnknownServiceError, or InvalidRequestError naming the bad fields.
   */
  async checkRequest(service: string, payload: unknown): Promise<Record<string, unknown>> {
    this.assertOpen(`checkRequest("${service}")`);
    const request = parseIntegrationRequest({ service, payload, metadata: {} });
    await this.ensureService(request.service);
    const schema = this.registry.payloadSchemaOf(request.service);
    return schema
      ? (parseWith(schema, request.payload, `Invalid payload for "${request.service}"`) as Record<string, unknown>)
      : request.payload;
  }

  /**
   * Make sure `service` is installed, importing its plugin now if needed. A service registered
   * through the static facade (`fallbackRegistry`) that an installed plugin also provides is
   * served by the facade's handler only when registered with `{ override: true }` (a test's
   * replacement, logged at debug level); otherwise it is a DuplicateServiceError.
   */
  async ensureService(service: string): Promise<void> {
    this.assertOpen(`ensureService("${service}")`);
    if (this.adoptFromFacade(service)) return;
    if (this.registry.has(service)) return;
    const claims = this.discovered.get(service);
    if (!claims) {
      throw new UnknownServiceError(service, this.listServices(), {
        problems: this.discoveryProblems.map((p) => `${p.packageName}: ${p.message}`),
      });
    }
    if (claims.length > 1) {
      const [a, b] = claims;
      throw new DuplicateServiceError(service, `${a!.packageName}@${a!.version}`, `${b!.packageName}@${b!.version}`);
    }
    const plugin = claims[0]!;
    let load = this.loads.get(plugin.packageName);
    const retryMs = this.config.pluginRetryMs ?? 5000;
    // A failed import is tried again once its back-off has passed, so a long-running worker
    // heals when the package is fixed, without a restart.
    if (!load || (load.failedAtMs !== undefined && this.now() - load.failedAtMs >= retryMs)) {
      const attempt = (load?.attempt ?? 0) + 1;
      const entry: PluginLoad = {
        attempt,
        promise: inSpan(
          'pipeline.plugin.load',
          { attributes: { 'pipeline.plugin.package': plugin.packageName, 'pipeline.plugin.version': plugin.version } },
          () => loadPlugin(plugin, attempt),
        ).then((loaded) => {
          const missing = plugin.services.filter(
            (s) => !loaded.handlers.some((h) => getHandlerDefinition(h)?.service === s),
          );
          if (missing.length) {
            throw new PluginLoadError(
              plugin.packageName,
              `its manifest declares ${missing.join(', ')} but its plugin object has no handler for ${missing.length > 1 ? 'them' : 'it'}`,
            );
          }
          this.install(loaded, { package: plugin.packageName, version: plugin.version });
        }),
      };
      entry.promise.catch(() => {
        entry.failedAtMs = this.now();
      });
      this.loads.set(plugin.packageName, entry);
      load = entry;
    }
    await load.promise;
  }

  /**
   * Serve `service` from the static facade when it holds it (following it as a test registers and
   * unregisters); returns whether it does.
   *
   * @throws DuplicateServiceError when an installed plugin provides it too and the facade's
   *   registration is not an override.
   */
  private adoptFromFacade(service: string): boolean {
    const facade = this.config.fallbackRegistry;
    if (!facade) return false;
    const wasAdopted = this.registry.isAdopted(service);
    if (!facade.has(service)) {
      this.registry.adopt(facade, service); // forgets a registration the facade dropped
      return false;
    }
    const claim = this.registry.hasOwn(service)
      ? this.registry.sourceOf(service)
      : this.discovered.get(service)?.map((p) => ({ package: p.packageName, version: p.version }))[0];
    if (claim && !facade.isOverride(service)) {
      throw new DuplicateServiceError(
        service,
        `${claim.package}@${claim.version} (installed)`,
        `PipelineHandlerRegistry.register("${service}")`,
      );
    }
    this.registry.adopt(facade, service);
    if (claim && !wasAdopted)
      this.logger.debug(
        `service "${service}": the handler registered with PipelineHandlerRegistry.register(..., { override: true }) replaces the one of ${claim.package}@${claim.version} (a test override)`,
      );
    return true;
  }

  /**
   * The handler `service` would run with, built in `container` (default: a fresh child of this
   * invoker's container), importing its plugin when needed: what the static facade's
   * `PipelineHandlerRegistry.getHandler(service)` answers through the default invoker.
   */
  async resolveHandler(service: string, container?: DependencyContainer): Promise<ResolvedHandler> {
    await this.ensureService(service);
    return this.registry.getHandler(service, container ?? this.container.createChildContainer());
  }

  /** Whether {@link close} was called: a closed invoker refuses further calls. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private assertOpen(call: string): void {
    if (this.closing) throw new InvokerClosedError(call);
  }

  private now(): number {
    return this.clock.now();
  }

  /**
   * Wait until the tracker's service (W&B) has every finished run: a run's record is stored
   * before its invocation returns, but W&B finishes in the background. `close` does this too;
   * a Lambda calls it before returning, since the process may be frozen after.
   */
  async flushTracking(): Promise<void> {
    if (!this.runtime) return;
    const { tracker } = await this.runtime;
    await tracker?.flush?.();
  }

  /**
   * Release what this invoker opened: the store and the tracker it created from the
   * configuration (the tracker first waits until W&B has every finished run). A store or
   * tracker passed in the config is the caller's: it stays open (a passed tracker is flushed).
   * Calling it again is harmless; after it, every call is refused with InvokerClosedError.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (!this.runtime) return;
    let runtime: Runtime;
    try {
      runtime = await this.runtime;
    } catch {
      return; // it never opened: nothing to release
    }
    const { store, tracker } = runtime;
    const ownTracker = this.config.tracker === undefined;
    const ownStore = this.config.store === undefined;
    await Promise.allSettled([
      ownTracker ? tracker?.close() : tracker?.flush?.(),
      ownStore ? store.close() : undefined,
    ]);
  }

  /**
   * Install a plugin in a container of its own (a child of the invoker's): its `register` cannot
   * rebind what other plugins resolve (LOGGER, ENV, CLOCK...); the host's registrations are
   * applied after it, so the host's win; its handlers resolve from a child of it for each run.
   */
  private install(plugin: PipelinePlugin, source: { package: string; version: string }): void {
    const container = createPluginContainer(this.container);
    this.registry.installPlugin(plugin, { source, container });
    plugin.register?.(container);
    this.hostRegistrations.replay(container);
  }

  /** (Its callers are async or await it in a try: anything it throws reaches theirs as a rejection.) */
  private run(request: IntegrationRequest, options: InvokeOptions): Promise<RunExecutionMetadata> {
    // the run's span holds everything: the plugin's import, the store, the handler
    return inRunSpan(request.service, options, this.config.telemetry === false, (span) =>
      this.runInSpan(span, request, options),
    );
  }

  private async runInSpan(
    span: Span,
    request: IntegrationRequest,
    options: InvokeOptions,
  ): Promise<RunExecutionMetadata> {
    // a service already installed, on an open runtime: no await (a worker passes here each run)
    if (this.config.fallbackRegistry || !this.registry.has(request.service)) await this.ensureService(request.service);
    const runtime = this.opened ?? (await this.ready(`invokePipelineHandler("${request.service}")`));
    if (this.closing) throw new InvokerClosedError(`invokePipelineHandler("${request.service}")`);
    // records this process left there, and (every 30 s) those of other processes
    if (runtime.outbox?.due()) await this.replayOutbox(runtime);
    return await runtime.executor.executeIn(span, request, options); // (one tick less than returning the promise)
  }

  private async replayOutbox({ outbox, store, runLifecycle }: Runtime): Promise<void> {
    try {
      const result = await outbox!.flush(runLifecycle);
      if (result.written) this.logger.info(`wrote ${result.written} record(s) from the outbox to ${store.description}`);
      if (result.quarantined)
        this.logger.warn(
          `${result.quarantined} record(s) or line(s) of the outbox were quarantined in ${outbox!.quarantineFile}`,
        );
      if (result.remaining)
        this.logger.warn(`${result.remaining} record(s) still wait in ${outbox!.file}: ${describe(result.error)}`);
    } catch (error) {
      this.logger.warn(`could not replay the outbox ${outbox!.file}: ${describe(error)}`);
    }
  }

  private ready(call: string): Promise<Runtime> {
    if (this.closing) return Promise.reject(new InvokerClosedError(call));
    this.runtime ??= this.open().then(
      (runtime) => (this.opened = runtime),
      (error) => {
        this.runtime = undefined;
        throw error;
      },
    );
    return this.runtime;
  }

  /** The runtime once {@link ready} has opened it. */
  private opened: Runtime | undefined;

  private async open(): Promise<Runtime> {
    const storage = this.storage;
    const store = this.config.store ?? (await createRunStore(storage));
    const tracker =
      this.config.tracker === false
        ? undefined
        : (this.config.tracker ??
          createTracker(this.tracking, { logger: this.logger, redactor: this.redactor, clock: this.clock }));
    const outbox =
      this.config.outbox === false
        ? undefined
        : (this.config.outbox ?? new Outbox(outboxFile(storage), { clock: this.clock, retry: this.retryPolicy }));
    // each record names where it is written: the store actually in use, passed in or configured
    const tableName = recordLocationOf(store);
    const executor = this.executorFor(store, tracker, outbox, tableName);
    return { store, tracker, outbox, tableName, executor, runLifecycle: executor.lifecycle };
  }

  /** The one clock of this invoker (`config.clock`, completed with the system's timers). */
  get clock(): Clock {
    return (this.wholeClock ??= toClock(this.config.clock));
  }
  private wholeClock: Clock | undefined;

  /** The retry policy of store calls: core's, or the explicit delays of `storeRetryDelaysMs`. */
  private get retryPolicy(): RetryPolicy {
    return this.config.storeRetryDelaysMs
      ? retryPolicyFromDelays(this.config.storeRetryDelaysMs)
      : DEFAULT_RETRY_POLICY;
  }

  /**
   * The run lifecycle over the store in use (opened on first use): what the worker, schedules
   * and `pipeline cancel` change run records through.
   */
  async runLifecycle(): Promise<RunLifecycle> {
    return (await this.ready('runLifecycle()')).runLifecycle;
  }

  private executorFor(
    store: RunStore,
    tracker: Tracker | undefined,
    outbox: Outbox | undefined,
    tableName: string,
  ): Executor {
    const lifecycle = new RunLifecycle(store, {
      clock: this.clock,
      staleAfterMs: this.lifecycle.staleAfterMs,
      retry: this.retryPolicy,
    });
    return new Executor({
      registry: this.registry,
      container: this.container,
      store,
      lifecycle,
      tracker,
      logger: this.logger,
      clock: this.clock,
      outbox,
      tableName,
      redactor: this.redactor,
      heartbeatMs: this.lifecycle.heartbeatMs,
      cancelGraceMs: this.lifecycle.cancelGraceMs,
      defaultTimeoutMs: this.lifecycle.timeoutMs,
      telemetry: this.config.telemetry,
    });
  }
}

/**
 * Create an invoker: discovers the plugins installed in the host project (from package.json
 * only), and opens the store and tracker the environment configures on first use.
 *
 * @example
 * const invoker = createInvoker();
 * const record = await invoker.invokePipelineHandler('my_service', { run_type: 'prod' });
 * await invoker.close();
 */
export function createInvoker(config: InvokerConfig = {}): Invoker {
  return new Invoker(config);
}
