import { definePlugin, type Env, type JsonObject, type PipelinePlugin } from '@pipeline-invocation/core';
import { resolvePythonConfig, type PythonConfig, type ResolvedPythonConfig } from './config';
import { checkPythonServices, type PythonCheckOptions, type PythonServiceCheck } from './checks';
import { pythonHandlerClass } from './handler';

/** Where the host keeps this plugin's configuration: `pipelineInvocation.python` of its package.json. */
export const HOST_CONFIG_KEY = 'python';

/** The plugin of a set of configured Python services, with a check that runs none of them. */
export interface PythonPlugin extends PipelinePlugin {
  /** The configuration in effect. */
  readonly config: ResolvedPythonConfig;
  /** Each service's example payloads (`examples` in its configuration), for the conformance kit. */
  readonly examples: Readonly<Record<string, readonly JsonObject[]>>;
  /**
   * Check the interpreter and each entry point without running a handler (`pipeline doctor`
   * calls it; the conformance kit with `mode: 'import'`).
   */
  check(env?: Env, options?: PythonCheckOptions): Promise<PythonServiceCheck[]>;
}

/** Where a host's configuration lives. */
export interface HostInfo {
  /** The host's folder: the default working folder and the base of relative paths. */
  readonly dir: string;
  /** Where the configuration came from, named in errors, e.g. `/srv/app/package.json`. */
  readonly origin?: string;
}

/**
 * A plugin whose services are the given Python functions: for hosts that compose the invoker
 * in code, and for tests (`createTestInvoker({ plugins: [pythonPlugin(...)] })`).
 *
 * @throws ConfigError naming the invalid field.
 * @example
 * const plugin = pythonPlugin(
 *   { services: { preprocess_raw_data: 'pipelines.preprocess.handler:lambda_handler' } },
 *   { dir: __dirname },
 * );
 * const invoker = createInvoker({ discover: false, plugins: [plugin] });
 */
export function pythonPlugin(config: PythonConfig, host: HostInfo = { dir: process.cwd() }): PythonPlugin {
  const resolved = resolvePythonConfig(config, host.dir, host.origin);
  const plugin = definePlugin({ handlers: resolved.services.map((spec) => pythonHandlerClass(spec, resolved)) });
  return Object.freeze({
    ...plugin,
    config: resolved,
    examples: Object.fromEntries(resolved.services.map((s) => [s.service, s.examples])),
    check: (env?: Env, options?: PythonCheckOptions) => checkPythonServices(resolved, env, options),
  });
}

/**
 * The package's default export: a plugin with no services of its own. Its manifest says
 * `"servicesFrom": "python"`, so the invoker's discovery lists the services of the host's
 * `pipelineInvocation.python.services` and, when one is invoked, calls `configure` with that
 * section to get the plugin that runs them.
 */
export const hostConfiguredPythonPlugin = Object.freeze({
  ...definePlugin({ handlers: [] }),
  /** Build the plugin of the host's `pipelineInvocation.python` section. */
  configure: (section: unknown, host: HostInfo): PythonPlugin => pythonPlugin(section as PythonConfig, host),
});
