import type { DependencyContainer } from 'tsyringe';
import { CONTRACT_VERSION } from '../version';
import { getHandlerDefinition, type HandlerClass } from './handler-decorator';

/** The brand every plugin object carries (compared by value, never `instanceof`). */
export const PLUGIN_BRAND = '@pipeline-invocation/plugin';

/**
 * A handler plugin: the default export of a plugin package.
 * Build it with {@link definePlugin}.
 */
export interface PipelinePlugin {
  readonly $$type: typeof PLUGIN_BRAND;
  /** The contract version of the core this plugin was built against. */
  readonly contract: string;
  readonly handlers: readonly HandlerClass[];
  /** Registers the plugin's own collaborators (clients, config) in the host's container. */
  readonly register?: (container: DependencyContainer) => void;
}

/** Input of {@link definePlugin}. */
export interface PluginDefinition {
  handlers: readonly HandlerClass[];
  register?: (container: DependencyContainer) => void;
}

/**
 * Build the branded, contract-versioned plugin object a plugin package default-exports.
 *
 * @throws TypeError when a handler class is not decorated with `@pipelineHandler`.
 * @example
 * export default definePlugin({ handlers: [WordCount] });
 */
export function definePlugin(definition: PluginDefinition): PipelinePlugin {
  for (const handler of definition.handlers) {
    if (!getHandlerDefinition(handler)) {
      throw new TypeError(
        `definePlugin: ${handler?.name || String(handler)} is not decorated with @pipelineHandler(service)`,
      );
    }
  }
  return Object.freeze({
    $$type: PLUGIN_BRAND,
    contract: CONTRACT_VERSION,
    handlers: Object.freeze([...definition.handlers]),
    ...(definition.register ? { register: definition.register } : {}),
  });
}

/**
 * Why `value` is not a usable plugin object, or `undefined` when it is one.
 * Accepts a module namespace whose `default` is the plugin (CommonJS interop).
 */
export function explainNotAPlugin(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') {
    return `its default export is ${value === null ? 'null' : typeof value}, not a plugin object from definePlugin()`;
  }
  const candidate = value as Partial<PipelinePlugin>;
  if (candidate.$$type !== PLUGIN_BRAND) {
    return `its default export is not branded "${PLUGIN_BRAND}"; export default definePlugin({ handlers: [...] })`;
  }
  if (typeof candidate.contract !== 'string') return 'its plugin object has no contract version';
  if (!Array.isArray(candidate.handlers)) return 'its plugin object has no handlers array';
  return undefined;
}

/** Whether `value` is a branded plugin object. */
export function isPipelinePlugin(value: unknown): value is PipelinePlugin {
  return explainNotAPlugin(value) === undefined;
}
