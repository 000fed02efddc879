import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type Satisfies from 'semver/functions/satisfies';
import type ValidRange from 'semver/ranges/valid';
import {
  CONTRACT_VERSION,
  IncompatiblePluginError,
  PluginLoadError,
  describe,
  explainNotAPlugin,
  type PipelinePlugin,
} from '@pipeline-invocation/core';
import type { DiscoveredPlugin } from './manifest';

/** import() from its own file (esm-import.ts), loaded only for an ES module plugin. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const importModule = (url: string) => (require('./esm-import') as typeof import('./esm-import')).importModule(url);

/**
 * Check that a manifest's contract range accepts our CONTRACT_VERSION (before any code of the
 * plugin is imported).
 *
 * @throws IncompatiblePluginError with both versions.
 */
export function checkContract(plugin: Pick<DiscoveredPlugin, 'packageName' | 'contract'>): void {
  if (!contractAccepts(plugin.contract, CONTRACT_VERSION)) {
    throw new IncompatiblePluginError(plugin.packageName, plugin.contract, CONTRACT_VERSION);
  }
}

/** A caret range of three plain numbers (`^1.0.0`), what almost every manifest declares. */
const CARET = /^\^(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})$/;
/** A version of three plain numbers, no prerelease or build. */
const PLAIN = /^(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})$/;

/**
 * Whether the semver range `range` is valid and accepts `version`, as semver's `validRange` and
 * `satisfies` answer. A caret range of a plain version is answered here (semver's rule: the
 * version is at least the range's, and the leftmost non-zero part is the same; with `^0.0.z`, all
 * three are), so a cold start does not load semver and build its expressions; any other range
 * goes to semver.
 */
export function contractAccepts(range: string, version: string): boolean {
  const caret = CARET.exec(range);
  const plain = caret && PLAIN.exec(version);
  if (caret && plain) {
    const [r, v] = [caret.slice(1, 4).map(Number), plain.slice(1, 4).map(Number)] as [number[], number[]];
    const atLeast = v[0]! !== r[0]! ? v[0]! > r[0]! : v[1]! !== r[1]! ? v[1]! > r[1]! : v[2]! >= r[2]!;
    const fixed = r[0]! > 0 ? 1 : r[1]! > 0 ? 2 : 3; // the parts that must stay as they are
    return atLeast && v.slice(0, fixed).every((part, i) => part === r[i]);
  }
  // the two functions, not semver's index (which loads all of its ~45 files at start-up)
  /* eslint-disable @typescript-eslint/no-require-imports */
  const validRange = require('semver/ranges/valid') as typeof ValidRange;
  const satisfies = require('semver/functions/satisfies') as typeof Satisfies;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return !!validRange(range) && satisfies(version, range);
}

/**
 * Import a discovered plugin package (CommonJS or ES module) and return its branded plugin
 * object. `attempt` counts imports of this package in this process (a retry after a failure).
 *
 * @throws IncompatiblePluginError when its contract range excludes ours.
 * @throws PluginLoadError when it cannot be imported or does not default-export a plugin.
 */
export async function loadPlugin(plugin: DiscoveredPlugin, attempt = 1): Promise<PipelinePlugin> {
  checkContract(plugin);
  const entry = entryPoint(plugin);
  let namespace: unknown;
  try {
    namespace =
      attempt === 1 ? await importEntry(entry, plugin.packageJson) : await reimport(entry, plugin.packageJson, attempt);
  } catch (error) {
    throw new PluginLoadError(plugin.packageName, `importing ${entry} failed: ${describe(error)}`, { cause: error });
  }
  const candidate = unwrapDefault(namespace);
  const problem = explainNotAPlugin(candidate);
  if (problem) throw new PluginLoadError(plugin.packageName, problem);
  return plugin.hostConfig ? configureFromHost(plugin, candidate as PipelinePlugin) : (candidate as PipelinePlugin);
}

/**
 * A plugin whose services the host configures (`"servicesFrom"` in its manifest) default-exports
 * a plugin object with this function: given the host's section, it returns the plugin of the
 * configured services.
 */
export type ConfigurePlugin = (
  section: unknown,
  host: { readonly dir: string; readonly origin: string },
) => PipelinePlugin;

/**
 * The plugin of the services the host configured for `plugin` (its manifest's `servicesFrom`).
 *
 * @throws ConfigError (from the plugin) naming the invalid field of the host's section.
 * @throws PluginLoadError when the plugin object has no `configure`, or returns no plugin.
 */
function configureFromHost(plugin: DiscoveredPlugin, loaded: PipelinePlugin): PipelinePlugin {
  const { key, section, hostDir, origin } = plugin.hostConfig!;
  const configure = (loaded as { configure?: unknown }).configure;
  if (typeof configure !== 'function')
    throw new PluginLoadError(
      plugin.packageName,
      `its manifest says "servicesFrom": "${key}" but its plugin object has no configure(section, host) function`,
    );
  let configured: unknown;
  try {
    configured = (configure as ConfigurePlugin)(section, { dir: hostDir, origin });
  } catch (error) {
    // the host's configuration is wrong, not the plugin: keep the plugin's error (a ConfigError names the field)
    if (error instanceof Error && error.name === 'ConfigError') throw error;
    throw new PluginLoadError(plugin.packageName, `configuring it from ${origin} failed: ${describe(error)}`, {
      cause: error,
    });
  }
  const problem = explainNotAPlugin(configured);
  if (problem) throw new PluginLoadError(plugin.packageName, `its configure() returned no plugin: ${problem}`);
  return configured as PipelinePlugin;
}

/** Whether Node loads `entry` of a package with this package.json as an ES module. */
function isEsModule(entry: string, packageJson: Record<string, unknown>): boolean {
  return entry.endsWith('.mjs') || (!entry.endsWith('.cjs') && packageJson.type === 'module');
}

/**
 * Load a plugin's entry: an ES module with import(); a CommonJS one with require, which spares
 * a cold start Node's ES module loader (10-15 ms: `pipeline invoke` of a CommonJS plugin loads
 * nothing of it). A CommonJS-typed file written as an ES module (Node detects its syntax) goes
 * to import() as before.
 */
async function importEntry(entry: string, packageJson: Record<string, unknown>): Promise<unknown> {
  if (isEsModule(entry, packageJson)) return importModule(pathToFileURL(entry).href);
  try {
    return createRequire(entry)(entry);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE' && !(error instanceof SyntaxError))
      throw error;
    return importModule(pathToFileURL(entry).href);
  }
}

/**
 * Import a package again after a failed import. Node keeps a failed ES module's error for its
 * URL for ever, so an ES module is asked for under a URL of its own; a CommonJS module that
 * threw is dropped from the require cache by Node, so \`require\` reads the fixed file afresh.
 */
function reimport(entry: string, packageJson: Record<string, unknown>, attempt: number): Promise<unknown> | unknown {
  if (isEsModule(entry, packageJson)) return importModule(`${pathToFileURL(entry).href}?attempt=${attempt}`);
  return createRequire(entry)(entry);
}

/**
 * The default export, through CommonJS interop layers (`module.exports.default`): what
 * `import plugin from '<a CommonJS plugin>'` gives in an ES module is the module object, whose
 * `default` is the plugin.
 */
export function unwrapDefault(namespace: unknown): unknown {
  let value = (namespace as { default?: unknown } | undefined)?.default ?? namespace;
  for (let i = 0; i < 2 && explainNotAPlugin(value) && value && typeof value === 'object' && 'default' in value; i++) {
    value = (value as { default: unknown }).default;
  }
  return value;
}

/** The file `import(packageName)` would load, from its package.json `exports` or `main`. */
export function entryPoint(plugin: Pick<DiscoveredPlugin, 'dir' | 'packageJson'>): string {
  const { exports, main } = plugin.packageJson as { exports?: unknown; main?: unknown };
  const target = exportTarget(exports);
  if (target) return join(plugin.dir, target);
  return join(plugin.dir, typeof main === 'string' ? main : 'index.js');
}

const CONDITIONS = ['node', 'import', 'require', 'default'];

function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (Array.isArray(exports)) return exports.map(exportTarget).find(Boolean);
  if (exports === null || typeof exports !== 'object') return undefined;
  const map = exports as Record<string, unknown>;
  if ('.' in map) return exportTarget(map['.']);
  for (const condition of CONDITIONS) {
    if (condition in map) {
      const found = exportTarget(map[condition]);
      if (found) return found;
    }
  }
  return undefined;
}
