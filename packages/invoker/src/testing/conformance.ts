import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import {
  CONTRACT_VERSION,
  describe,
  getHandlerDefinition,
  type PipelinePlugin,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { RecordingTracker, silentLogger } from '@pipeline-invocation/observability';
import { checkManifest, findHostRoot, hostServices, type HostConfigSection } from '../discovery/manifest';
import { entryPoint, loadPlugin } from '../discovery/plugin-loader';
import { createInvoker } from '../invoker';

/** One thing a plugin package gets wrong, with what to do about it. */
export interface ConformanceFinding {
  /** Stable, machine-readable: `manifest`, `contract-range`, `peer-range`, `entry-not-packed`, ... */
  code: string;
  /** The service it concerns, when it concerns one. */
  service?: string;
  message: string;
  fix: string;
}

/** Options of {@link checkPluginConformance}. */
export interface ConformanceOptions {
  /** How long a cancelled handler may take to settle (ms; default 2000). */
  cancelSettleMs?: number;
  /** When to cancel a handler's run after it starts (ms; default 100). */
  cancelAfterMs?: number;
  /**
   * Values for variables the plugin reads (e.g. an API URL pointing at a local stub); they win
   * over the temporary ones the check gives (see {@link checkEnvironment}).
   */
  env?: Record<string, string>;
  /**
   * For a plugin whose services the host configures (`"servicesFrom"` in its manifest, e.g.
   * handler-python): the folder of the host package.json whose configured services are checked
   * (each entry point imports and is callable, the host's examples are accepted and run).
   * Default: the nearest folder with a package.json from the working directory, so
   * `pipeline plugin check node_modules/<plugin>` run in a host project checks that host's services.
   */
  hostDir?: string;
}

/** A variable a plugin's manifest declares (`pipelineInvocation.env`). */
type DeclaredVariable = { name: string };

/**
 * The environment a plugin is checked in, made from what its manifest declares and nothing
 * else: `PIPELINE_HOME` is a fresh folder; each declared variable whose name says it is a place
 * gets a temporary one (a name ending in `_DIR`, `_HOME`, `_PATH`, `_FOLDER`, or `_ROOT`: a fresh
 * empty folder; in `_FILE`: a path in a fresh folder), so a check never reads or writes the
 * user's data; every other declared variable (keys, URLs, numbers) stays unset, so the plugin's
 * own default applies; `extra` wins. The process's own environment is not passed on.
 */
export function checkEnvironment(
  declared: readonly DeclaredVariable[],
  home: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { PIPELINE_HOME: home };
  for (const { name } of declared) {
    if (name === 'PIPELINE_HOME') continue;
    const place = join(home, 'env', name);
    if (/_(DIR|HOME|PATH|FOLDER|ROOT)$/.test(name)) {
      mkdirSync(place, { recursive: true });
      env[name] = place;
    } else if (/_FILE$/.test(name)) {
      mkdirSync(place, { recursive: true });
      env[name] = join(place, name.toLowerCase());
    }
  }
  return { ...env, ...extra };
}

/** The version of `@pipeline-invocation/core` this host runs. */
function coreVersion(): string {
  const manifest = JSON.parse(readFileSync(require.resolve('@pipeline-invocation/core/package.json'), 'utf8'));
  return String(manifest.version);
}

/**
 * Check a handler plugin package against the contract, the way the invoker will use it:
 * its manifest (services, contract range, peer range on core, a packed entry point), what
 * importing it does (in a child process: no undeclared modules, nothing left running), each
 * handler's payload schema (refuses a missing or unknown `run_type`, accepts the manifest's
 * `examples`), a run of each example through the testing kit (a record, or a typed error),
 * cancellation (the handler settles within `cancelSettleMs`), and the README (names every
 * service). Returns the findings; none means the package conforms.
 *
 * A plugin whose services the host configures (`"servicesFrom"`, e.g. handler-python) is
 * checked against the host at `options.hostDir` (default: the nearest package.json): each configured entry point must import and be
 * callable, the host's examples must be accepted and run; `run_type` is not imposed on the
 * host's payload schemas, and the README need not name the host's services.
 *
 * @example
 * expect(await checkPluginConformance(join(__dirname, '..'))).toEqual([]);
 */
export async function checkPluginConformance(
  packageDir: string,
  options: ConformanceOptions = {},
): Promise<ConformanceFinding[]> {
  const findings: ConformanceFinding[] = [];
  const manifestFile = join(packageDir, 'package.json');
  let packageJson: Record<string, unknown>;
  try {
    packageJson = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (error) {
    return [
      {
        code: 'manifest',
        message: `cannot read ${manifestFile}: ${describe(error)}`,
        fix: 'Give the package a valid package.json.',
      },
    ];
  }
  const name = String(packageJson.name ?? packageDir);
  const field = packageJson.pipelineInvocation as
    | { contract: string; services?: string[]; servicesFrom?: string; examples?: unknown; env?: DeclaredVariable[] }
    | undefined;
  const problem = checkManifest(field);
  if (problem)
    return [
      {
        code: 'manifest',
        message: `the "pipelineInvocation" field of package.json is invalid: ${problem}`,
        fix: 'Declare { "contract": "^1.0.0", "services": ["your_service"] } in package.json.',
      },
    ];
  const manifest = field!;

  if (!semver.validRange(manifest.contract) || !semver.satisfies(CONTRACT_VERSION, manifest.contract))
    findings.push({
      code: 'contract-range',
      message: `the contract range "${manifest.contract}" does not accept this host's contract ${CONTRACT_VERSION}`,
      fix: `Set "pipelineInvocation.contract" to a semver range accepting ${CONTRACT_VERSION}, e.g. "^${semver.major(CONTRACT_VERSION)}.0.0".`,
    });
  const peer = (packageJson.peerDependencies as Record<string, string> | undefined)?.['@pipeline-invocation/core'];
  const core = coreVersion();
  if (!peer || !semver.validRange(peer) || !semver.satisfies(core, peer))
    findings.push({
      code: 'peer-range',
      message: peer
        ? `its peerDependencies range on @pipeline-invocation/core, "${peer}", does not accept core ${core}`
        : 'it does not declare @pipeline-invocation/core in peerDependencies',
      fix: `Declare "peerDependencies": { "@pipeline-invocation/core": "^${semver.major(core)}.${semver.major(core) === 0 ? semver.minor(core) : 0}.0" }.`,
    });
  const entry = entryPoint({ dir: packageDir, packageJson });
  if (!isPacked(relative(packageDir, entry), packageJson.files))
    findings.push({
      code: 'entry-not-packed',
      message: `its entry point ${relative(packageDir, entry)} is not in "files", so the published package lacks it`,
      fix: `Add "${relative(packageDir, entry).split(sep)[0]}" to "files" in package.json.`,
    });

  findings.push(...(await checkImport(packageDir, entry, packageJson)));

  const host = manifest.servicesFrom
    ? hostSection(manifest.servicesFrom, options.hostDir ?? findHostRoot())
    : undefined;
  if (host && 'finding' in host) return [...findings, host.finding];
  const services = host?.services ?? manifest.services ?? [];
  let plugin: PipelinePlugin;
  try {
    plugin = await loadPlugin({
      packageName: name,
      version: String(packageJson.version ?? '0.0.0'),
      // a range that excludes this host is reported above; load it anyway to check the rest
      contract: findings.some((f) => f.code === 'contract-range') ? '*' : manifest.contract,
      services,
      env: [],
      dir: packageDir,
      packageJson,
      ...(host ? { hostConfig: host.hostConfig } : {}),
    });
  } catch (error) {
    return [
      ...findings,
      { code: 'load', message: describe(error), fix: 'Default-export the object definePlugin returns.' },
    ];
  }
  const provided = plugin.handlers.map((h) => getHandlerDefinition(h)?.service).filter((s): s is string => !!s);
  const missing = services.filter((s) => !provided.includes(s));
  const undeclared = provided.filter((s) => !services.includes(s));
  if (missing.length || undeclared.length)
    findings.push({
      code: 'services',
      message: `its manifest declares [${services.join(', ')}] but its default export provides [${provided.join(', ')}]`,
      fix: 'Make "pipelineInvocation.services" list exactly the services of the handlers the plugin exports.',
    });

  // a plugin configured by the host may bring the host's examples, and a check of its services
  const configured = plugin as { examples?: unknown; check?: unknown };
  const examples = (manifest.examples ?? configured.examples ?? {}) as Record<string, unknown[]>;
  const home = mkdtempSync(join(tmpdir(), 'plugin-check-'));
  try {
    const env = checkEnvironment(manifest.env ?? [], home, options.env);
    if (host && typeof configured.check === 'function') {
      const checks = (await configured.check(env, { mode: 'import' })) as {
        name: string;
        ok: boolean;
        detail: string;
      }[];
      for (const check of checks.filter((c) => !c.ok))
        findings.push({
          code: 'entry-point',
          ...(services.includes(check.name) ? { service: check.name } : {}),
          message: check.detail,
          fix: `Correct the service's entry in ${host.hostConfig.origin}, or make its module importable.`,
        });
    }
    for (const service of provided.filter((s) => services.includes(s))) {
      // a host-configured service's payload schema is the host's choice: run_type is not imposed
      findings.push(...(await checkService(plugin, service, examples[service] ?? [], env, options, !host)));
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }

  const readme = join(packageDir, 'README.md');
  if (!existsSync(readme)) {
    findings.push({
      code: 'readme',
      message: 'the package has no README.md',
      fix: 'Write a README that names each service, with its payload and configuration.',
    });
  } else {
    const text = readFileSync(readme, 'utf8');
    // the host's services are the host's to document, not the plugin's README
    for (const service of (host ? [] : services).filter((s) => !text.includes(s)))
      findings.push({
        code: 'readme',
        service,
        message: `README.md does not name the service ${service}`,
        fix: 'Name each service in the README, with its payload and configuration.',
      });
  }
  return findings;
}

/** The services a host configures for a `servicesFrom` plugin, or a finding saying why there are none. */
function hostSection(
  key: string,
  hostDir: string | undefined,
): { services: string[]; hostConfig: HostConfigSection } | { finding: ConformanceFinding } {
  const fix = `Pass { hostDir } with a host whose package.json configures "pipelineInvocation.${key}.services".`;
  if (!hostDir)
    return {
      finding: {
        code: 'host-config',
        message: `its services come from a host's package.json ("servicesFrom": "${key}"), and no host was given`,
        fix,
      },
    };
  const hostFile = join(hostDir, 'package.json');
  let host: Record<string, unknown>;
  try {
    host = JSON.parse(readFileSync(hostFile, 'utf8'));
  } catch (error) {
    return { finding: { code: 'host-config', message: `cannot read ${hostFile}: ${describe(error)}`, fix } };
  }
  const found = hostServices(host, key, hostFile);
  if ('problem' in found) return { finding: { code: 'host-config', message: found.problem, fix } };
  if (!found.services.length)
    return {
      finding: { code: 'host-config', message: `${hostFile} configures no "pipelineInvocation.${key}.services"`, fix },
    };
  const section = (host.pipelineInvocation as Record<string, unknown>)[key];
  return { services: found.services, hostConfig: { key, section, hostDir, origin: hostFile } };
}

/** Whether `file` (relative to the package) is published under `files` (no `files`: everything is). */
function isPacked(file: string, files: unknown): boolean {
  if (!Array.isArray(files)) return true;
  const path = file.split(sep).join('/');
  const included = files.filter((f): f is string => typeof f === 'string' && !f.startsWith('!'));
  return included.some((f) => {
    const pattern = f.replace(/^\.\//, '').replace(/\/+$/, '');
    return path === pattern || path.startsWith(`${pattern}/`);
  });
}

const IMPORT_PROBE = `
const [entry, dir, esm] = process.argv.slice(1);
const counts = () => process.getActiveResourcesInfo().reduce((m, r) => ((m[r] = (m[r] || 0) + 1), m), {});
const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));
(async () => {
  void process.stdout, void process.stderr; // Node opens these lazily: not the plugin's doing
  await settle();
  const before = counts();
  if (esm === 'true') await import(require('node:url').pathToFileURL(entry).href);
  else require(entry);
  await settle();
  const after = counts();
  const left = Object.entries(after).flatMap(([k, n]) => (n > (before[k] || 0) ? [k + ' x' + (n - (before[k] || 0))] : []));
  const direct = new Set();
  for (const mod of Object.values(require.cache)) {
    if (!mod.filename.startsWith(dir) || mod.filename.slice(dir.length).includes('node_modules')) continue;
    for (const child of mod.children) {
      if (child.filename.startsWith(dir)) continue; // its own files (the package may itself sit in node_modules)
      const at = child.filename.lastIndexOf('node_modules/');
      if (at < 0) continue;
      const parts = child.filename.slice(at + 13).split('/');
      direct.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
    }
  }
  process.stdout.write(JSON.stringify({ left, direct: [...direct] }));
  process.exit(0);
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) })); process.exit(0); });
`;

/** Import the package in a child process: what it leaves running, and which packages it requires directly. */
async function checkImport(
  packageDir: string,
  entry: string,
  packageJson: Record<string, unknown>,
): Promise<ConformanceFinding[]> {
  const esm = entry.endsWith('.mjs') || (!entry.endsWith('.cjs') && packageJson.type === 'module');
  let report: { left?: string[]; direct?: string[]; error?: string };
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['-e', IMPORT_PROBE, entry, packageDir + sep, String(esm)],
      { timeout: 20_000, cwd: packageDir, env: { PATH: process.env.PATH, LOG_LEVEL: 'error' } },
    );
    report = JSON.parse(stdout);
  } catch (error) {
    report = { error: describe(error) };
  }
  if (report.error) return []; // the import itself is checked (and reported) by loading the plugin
  const findings: ConformanceFinding[] = [];
  if (report.left?.length)
    findings.push({
      code: 'import-side-effects',
      message: `importing it leaves ${report.left.join(', ')} running (a timer, socket or server started at import)`,
      fix: 'Start nothing at import: create clients and timers inside the handler, or in a factory the container calls.',
    });
  const declared = new Set(
    ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((k) =>
      Object.keys((packageJson[k] as Record<string, string> | undefined) ?? {}),
    ),
  );
  const undeclared = (report.direct ?? []).filter((d) => !declared.has(d));
  if (undeclared.length)
    findings.push({
      code: 'undeclared-dependency',
      message: `importing it loads ${undeclared.join(', ')}, which its package.json does not declare`,
      fix: `Add ${undeclared.join(', ')} to "dependencies" (or "peerDependencies").`,
    });
  return findings;
}

/** The payload schema, the examples, one run of the first example, and a cancelled run. */
async function checkService(
  plugin: PipelinePlugin,
  service: string,
  examples: unknown[],
  env: Record<string, string>,
  options: ConformanceOptions,
  requireRunType = true,
): Promise<ConformanceFinding[]> {
  const findings: ConformanceFinding[] = [];
  // one invoker checks the payloads, runs the first example, then cancels a run of it
  const invoker = createInvoker({
    discover: false,
    outbox: false,
    logger: silentLogger,
    storeRetryDelaysMs: [],
    env,
    plugins: [plugin],
    store: new MemoryRunStore(),
    tracker: new RecordingTracker(),
    cancelGraceMs: options.cancelSettleMs ?? 2000,
  });
  const refusal = async (payload: unknown) => {
    try {
      await invoker.checkRequest(service, payload);
      return undefined;
    } catch (error) {
      return describe(error);
    }
  };
  const problems: string[] = [];
  const runTypeProbes = [
    ['without run_type', {}],
    ['with an unknown run_type', { run_type: 'no_such_run_type' }],
  ] as const;
  for (const [label, payload] of requireRunType ? runTypeProbes : []) {
    const refused = await refusal(payload);
    if (!refused) problems.push(`it accepts a payload ${label}`);
    else if (!refused.includes('run_type'))
      problems.push(`it refuses a payload ${label} without naming run_type (${refused})`);
  }
  if (problems.length)
    findings.push({
      code: 'payload-schema',
      service,
      message: `its payload schema is too loose: ${problems.join('; ')}`,
      fix: 'Give the handler a zod payload schema (pipelineHandler(service, { payload })) with run_type: z.enum([...]).',
    });
  for (const [i, example] of examples.entries()) {
    const refused = await refusal(example);
    if (refused)
      findings.push({
        code: 'example',
        service,
        message: `example ${i} of the manifest is refused: ${refused}`,
        fix: 'Fix the example in "pipelineInvocation.examples", or the schema.',
      });
  }
  if (examples.length === 0 || findings.some((f) => f.code === 'example')) {
    await invoker.close();
    return findings;
  }
  try {
    const record = await invoker.invokePipelineHandler(service, examples[0]);
    if (!record || typeof record.status !== 'string') throw new TypeError('no record');
  } catch (error) {
    const typed = error instanceof Error && error.name !== 'Error' && error.name !== 'TypeError';
    if (!typed)
      findings.push({
        code: 'run',
        service,
        message: `running example 0 threw an untyped error: ${describe(error)}`,
        fix: 'Return a HandlerResult, or throw a named error class.',
      });
  }
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('conformance check')), options.cancelAfterMs ?? 100).unref();
  let cancelled: RunExecutionMetadata | undefined;
  try {
    cancelled = await invoker.invokePipelineHandler(service, examples[0], {}, { signal: controller.signal });
  } catch {
    // aborted before the run began, or a typed error: nothing ran on
  }
  if (cancelled?.status === 'CANCELLED' && /did not settle/.test(cancelled.body))
    findings.push({
      code: 'ignores-abort',
      service,
      message: `cancelled, its handler did not settle within ${options.cancelSettleMs ?? 2000} ms`,
      fix: 'Watch context.signal: pass it to the calls the handler makes, or check it between steps.',
    });
  await invoker.close();
  return findings;
}
