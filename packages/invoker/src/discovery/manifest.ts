// Reads plugin manifests from package.json files only. This module is on the path of
// `pipeline list`, which must stay about as fast as starting node: it imports node:fs and
// node:path and nothing else (no zod, no core, no plugin code).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse as parsePath, resolve, sep } from 'node:path';

/** The `pipelineInvocation` field a plugin package declares in its package.json. */
export interface PluginManifestField {
  /** Semver range of core's CONTRACT_VERSION the plugin supports. */
  contract: string;
  /** The services it provides (may be left out when `servicesFrom` is given). */
  services: string[];
  /**
   * The services are the host's: the keys of `pipelineInvocation.<servicesFrom>.services` in the
   * host's package.json (e.g. `"python"` for `@pipeline-invocation/handler-python`). The plugin's
   * default export then has `configure(section, host)` returning the plugin of those services.
   */
  servicesFrom?: string;
  /**
   * The environment variables it reads: listed by `pipeline doctor`; the values of `secret` ones
   * are masked there and redacted from logs, W&B and run records.
   */
  env?: { name: string; description: string; secret?: boolean }[];
  /**
   * V8 heap sizes its runs need, as node options: `--max-semi-space-size=<MiB>` and
   * `--max-old-space-size=<MiB>` only. `pipeline invoke` of one of its services starts node
   * again with them when it was not started with a value of its own (see the README's
   * "Node options a plugin asks for").
   */
  nodeOptions?: string[];
}

/** The node options a manifest's `nodeOptions` may list: V8 heap sizes in MiB. */
export const HEAP_SIZE_OPTION = /^--max-(semi|old)-space-size=[1-9]\d*$/;

/** A plugin package found through the host's dependencies. */
export interface DiscoveredPlugin {
  readonly packageName: string;
  readonly version: string;
  readonly contract: string;
  readonly services: readonly string[];
  /** The environment variables its manifest declares. */
  readonly env: readonly { readonly name: string; readonly description: string; readonly secret?: boolean }[];
  /** The node options its manifest asks `pipeline invoke` to start with (none when absent). */
  readonly nodeOptions?: readonly string[];
  /** Folder of the package. */
  readonly dir: string;
  /** The parsed package.json (to find its entry point when it is loaded). */
  readonly packageJson: Record<string, unknown>;
  /** For a plugin whose manifest has `servicesFrom`: the host's section that configures it. */
  readonly hostConfig?: HostConfigSection;
}

/** The host's configuration of a plugin whose services come from the host (`servicesFrom`). */
export interface HostConfigSection {
  /** The manifest's `servicesFrom`, e.g. `python`. */
  readonly key: string;
  /** `pipelineInvocation.<key>` of the host's package.json, as written (the plugin validates it). */
  readonly section: unknown;
  /** The host's folder. */
  readonly hostDir: string;
  /** The host's package.json, named in errors. */
  readonly origin: string;
}

/**
 * A declared dependency that discovery could not use: not installed, an unreadable package.json,
 * or a malformed manifest. Reported (by `pipeline list`, `pipeline doctor` and the unknown-service
 * message), never loaded.
 */
export interface DiscoveryProblem {
  readonly packageName: string;
  readonly message: string;
}

/** What discovery found. */
export interface Discovery {
  /** The host package.json it read, or `undefined` when none was found. */
  readonly hostPackageJson: string | undefined;
  readonly plugins: readonly DiscoveredPlugin[];
  readonly problems: readonly DiscoveryProblem[];
}

/** Options of {@link discoverPlugins}. */
export interface DiscoveryOptions {
  /** Folder whose package.json is the host's (default: nearest package.json from the working directory). */
  root?: string;
  /** Only these package names. */
  include?: readonly string[];
  /** Never these package names. */
  exclude?: readonly string[];
}

/** The nearest folder at or above `from` that holds a package.json. */
export function findHostRoot(from: string = process.cwd()): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Find the installed plugin packages among the host's `dependencies` and `devDependencies`
 * by reading their package.json files (looked up in node_modules folders the way Node does).
 * Never scans node_modules and never imports plugin code.
 */
export function discoverPlugins(options: DiscoveryOptions = {}): Discovery {
  const root = options.root ? resolve(options.root) : findHostRoot();
  if (!root || !existsSync(join(root, 'package.json')))
    return { hostPackageJson: undefined, plugins: [], problems: [] };
  const hostFile = join(root, 'package.json');
  const host = readJson(hostFile) ?? {};
  const names = new Set([...Object.keys(asRecord(host.dependencies)), ...Object.keys(asRecord(host.devDependencies))]);
  const include = options.include && new Set(options.include);
  const exclude = new Set(options.exclude ?? []);
  const plugins: DiscoveredPlugin[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const name of [...names].sort()) {
    if ((include && !include.has(name)) || exclude.has(name)) continue;
    const dir = findPackageDir(root, name);
    if (!dir) {
      // devDependencies are left out on purpose by `npm install --omit=dev`: not worth a word
      if (name in asRecord(host.dependencies)) {
        problems.push({ packageName: name, message: 'declared in package.json but not installed: run npm install' });
      }
      continue;
    }
    const packageJson = readJson(joinPlain(dir, 'package.json'));
    if (!packageJson) {
      problems.push({
        packageName: name,
        message: `its package.json (${join(dir, 'package.json')}) cannot be read as JSON: reinstall the package`,
      });
      continue;
    }
    if (packageJson.pipelineInvocation === undefined) continue;
    const problem = checkManifest(packageJson.pipelineInvocation);
    if (problem) {
      problems.push({
        packageName: name,
        message: `invalid "pipelineInvocation" field in its package.json: ${problem}`,
      });
      continue;
    }
    const field = packageJson.pipelineInvocation as PluginManifestField;
    let services = [...(field.services ?? [])];
    let hostConfig: HostConfigSection | undefined;
    if (field.servicesFrom !== undefined) {
      const found = hostServices(host, field.servicesFrom, hostFile);
      if ('problem' in found) {
        problems.push({ packageName: name, message: found.problem });
        continue;
      }
      services = found.services;
      hostConfig = {
        key: field.servicesFrom,
        section: asRecord(host.pipelineInvocation)[field.servicesFrom],
        hostDir: root,
        origin: hostFile,
      };
    }
    plugins.push({
      packageName: name,
      version: typeof packageJson.version === 'string' ? packageJson.version : '0.0.0',
      contract: field.contract,
      services,
      env: field.env ?? [],
      ...(field.nodeOptions?.length ? { nodeOptions: field.nodeOptions } : {}),
      dir,
      packageJson,
      ...(hostConfig ? { hostConfig } : {}),
    });
  }
  return { hostPackageJson: hostFile, plugins, problems };
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The service names the host configures for a `servicesFrom` plugin: the keys of
 * `pipelineInvocation.<key>.services` (none when the host has no such section). Only the names
 * are checked here; the plugin validates the whole section when it is loaded.
 */
export function hostServices(
  host: Record<string, unknown>,
  key: string,
  hostFile: string,
): { services: string[] } | { problem: string } {
  const section = asRecord(host.pipelineInvocation)[key];
  if (section === undefined) return { services: [] };
  const field = `"pipelineInvocation.${key}.services" in ${hostFile}`;
  const services = (section as { services?: unknown } | null)?.services;
  if (services === null || typeof services !== 'object' || Array.isArray(services) || !Object.keys(services).length)
    return {
      problem: `${field} must be an object mapping each service name to its entry point, e.g. { "my_service": "pipelines.my_service.handler:lambda_handler" }`,
    };
  const bad = Object.keys(services).find((s) => !SERVICE_NAME.test(s));
  if (bad !== undefined)
    return {
      problem: `${field} has an invalid service name ${JSON.stringify(bad)}: use letters, digits, "_", "-" and "."`,
    };
  return { services: Object.keys(services).sort() };
}

/**
 * A package name whose path needs no normalizing (no `.` or `..` segment, no backslash): its
 * folder is joined by hand on POSIX, which is what `join` gives, at a fraction of the cost.
 */
const PLAIN_NAME = /^(@[\w~-][\w.~-]*\/)?[\w~-][\w.~-]*$/;

/** `join(dir, ...parts)` for a normalized `dir` and plain parts. */
function joinPlain(dir: string, ...parts: string[]): string {
  return sep === '/' ? `${dir.endsWith('/') ? dir : `${dir}/`}${parts.join('/')}` : join(dir, ...parts);
}

function findPackageDir(root: string, name: string): string | undefined {
  let dir = root;
  const top = parsePath(dir).root;
  const joinTo = PLAIN_NAME.test(name) ? joinPlain : join;
  for (;;) {
    const candidate = joinTo(dir, 'node_modules', name);
    if (existsSync(joinTo(candidate, 'package.json'))) return candidate;
    if (dir === top) return undefined;
    dir = dirname(dir);
  }
}

/** Why a manifest field is malformed, or `undefined`. */
export function checkManifest(field: unknown): string | undefined {
  if (field === null || typeof field !== 'object' || Array.isArray(field)) {
    return 'it must be an object { "contract": "<semver range>", "services": ["..."] }';
  }
  const { contract, services, servicesFrom } = field as Record<string, unknown>;
  if (typeof contract !== 'string' || contract.trim() === '')
    return '"contract" must be a semver range such as "^1.0.0"';
  if (servicesFrom !== undefined) {
    if (typeof servicesFrom !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(servicesFrom))
      return '"servicesFrom" must name the host\'s "pipelineInvocation" section holding the services, e.g. "python"';
    if (services !== undefined && (!Array.isArray(services) || services.length !== 0))
      return '"services" must be left out when "servicesFrom" is given (the host lists them)';
  } else {
    if (!Array.isArray(services) || services.length === 0)
      return '"services" must be a non-empty array of service names';
    const bad = services.find((s) => typeof s !== 'string' || s.trim() === '');
    if (bad !== undefined) return `"services" has an invalid entry ${JSON.stringify(bad)}`;
  }
  return (
    checkEnvDeclarations((field as Record<string, unknown>).env) ??
    checkNodeOptions((field as Record<string, unknown>).nodeOptions)
  );
}

/** Why a manifest's `nodeOptions` list is malformed, or `undefined` (it is optional). */
function checkNodeOptions(options: unknown): string | undefined {
  if (options === undefined) return undefined;
  if (!Array.isArray(options) || options.some((o) => typeof o !== 'string' || !HEAP_SIZE_OPTION.test(o)))
    return `"nodeOptions" may list V8 heap sizes only ("--max-semi-space-size=<MiB>", "--max-old-space-size=<MiB>"), not ${JSON.stringify(options)}`;
  return undefined;
}

/** Why a manifest's `env` list is malformed, or `undefined` (it is optional). */
export function checkEnvDeclarations(env: unknown): string | undefined {
  if (env === undefined) return undefined;
  if (!Array.isArray(env)) return '"env" must be an array of { "name", "description", "secret"? }';
  for (const entry of env as unknown[]) {
    const { name, description, secret } = asRecord(entry);
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      return `"env" has an entry without a valid variable name: ${JSON.stringify(entry)}`;
    if (typeof description !== 'string' || description.trim() === '')
      return `"env" entry ${name} needs a "description"`;
    if (secret !== undefined && typeof secret !== 'boolean')
      return `"env" entry ${name}: "secret" must be true or false`;
  }
  return undefined;
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return asRecord(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Map service name to the plugins that claim it; a service with two claimants is a
 * conflict the invoker reports by naming both.
 */
export function servicesOf(plugins: readonly DiscoveredPlugin[]): Map<string, DiscoveredPlugin[]> {
  const map = new Map<string, DiscoveredPlugin[]>();
  for (const plugin of plugins) {
    for (const service of plugin.services) map.set(service, [...(map.get(service) ?? []), plugin]);
  }
  return map;
}
