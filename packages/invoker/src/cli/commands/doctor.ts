import { readFileSync } from 'node:fs';
import { CONTRACT_VERSION, describe, withTimeout, type EnvVariable } from '@pipeline-invocation/core';
import { createRunStore, storageConfigFromEnv } from '@pipeline-invocation/storage';
import { isSecretEnvName, trackingConfigFromEnv, type TrackingConfig } from '@pipeline-invocation/observability';
import { checkEnvDeclarations, discoverPlugins, servicesOf, type DiscoveredPlugin } from '../../discovery/manifest';
import { checkContract } from '../../discovery/plugin-loader';
import { hostConfiguredPluginChecks } from '../../discovery/plugin-checks';
import { HOST_VARIABLES, hostConfigProblems } from '../../config';
import { EXIT } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline doctor [--json]

Show the configuration in effect (secrets masked), the handler plugins found, and whether the
run store and the tracker can be reached. Every invalid configuration value is flagged.
Exit code 0 when all is well, 2 when a configuration value is invalid, 4 when the store cannot
be used, 1 for any other problem.
`;

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** `pipeline doctor`. */
export async function doctor(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('doctor', args, { json: { type: 'boolean' } }, false);
  if (values.help) return (void io.out(HELP), EXIT.OK);

  const discovery = discoverPlugins({ root: io.env.PIPELINE_ROOT || undefined });
  const variables = declaredVariables(discovery.plugins);
  const secretNames = new Set(variables.filter((v) => v.secret).map((v) => v.name));
  const environment = Object.fromEntries(
    variables
      .map(({ name }) => [name, mask(name, io.env[name], secretNames)] as const)
      .filter(([, v]) => v !== undefined),
  );
  const plugins = discovery.plugins.map((p) => {
    let compatible = true;
    try {
      checkContract(p);
    } catch {
      compatible = false;
    }
    return {
      package: p.packageName,
      version: p.version,
      services: p.services,
      contract: p.contract,
      compatible,
      ...(compatible ? {} : { incompatibility: `supports ${p.contract}, host implements ${CONTRACT_VERSION}` }),
    };
  });
  const conflicts = [...servicesOf(discovery.plugins)]
    .filter(([, claims]) => claims.length > 1)
    .map(([service, claims]) => `${service}: claimed by ${claims.map((c) => c.packageName).join(' and ')}`);

  const checks: Check[] = [];
  // Every configuration part is read, so every bad value is flagged, not only the first.
  const configErrors = hostConfigProblems(io.env, io.cwd).map(({ part, detail }) => ({
    name: `configuration (${part})`,
    ok: false,
    detail,
  }));
  checks.push(...configErrors);
  let storeOk = true;
  try {
    const store = await createRunStore(storageConfigFromEnv(io.env, io.cwd));
    try {
      await withTimeout(store.ping(), 10_000, 'the store did not answer within 10 s');
      checks.push({ name: 'run store', ok: true, detail: `${store.description} reachable` });
    } finally {
      await store.close();
    }
  } catch (error) {
    storeOk = false;
    checks.push({ name: 'run store', ok: false, detail: describe(error) });
  }
  try {
    checks.push(await checkTracker(trackingConfigFromEnv(io.env, io.cwd)));
  } catch (error) {
    checks.push({ name: 'tracker', ok: false, detail: describe(error) });
  }
  for (const problem of discovery.problems)
    checks.push({ name: `plugin ${problem.packageName}`, ok: false, detail: problem.message });
  for (const conflict of conflicts) checks.push({ name: 'services', ok: false, detail: conflict });
  // services the host configures (Python ones): their interpreter and entry points, none run
  checks.push(...(await hostConfiguredPluginChecks(discovery, io.env)));
  for (const p of plugins.filter((p) => !p.compatible))
    checks.push({ name: `plugin ${p.package}`, ok: false, detail: `incompatible: ${p.incompatibility}` });

  const report = {
    contract: CONTRACT_VERSION,
    hostPackageJson: discovery.hostPackageJson ?? null,
    environment,
    variables: variables.map((v) => ({ ...v, set: environment[v.name] !== undefined })),
    plugins,
    checks,
  };
  if (values.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.out(`pipeline-invocation doctor (contract ${CONTRACT_VERSION})\n\nEnvironment:\n`);
    io.out(
      Object.entries(environment)
        .map(([k, v]) => `  ${k}=${v}\n`)
        .join('') || '  (no configuration variables set: defaults in effect)\n',
    );
    const pluginVariables = variables.filter((v) => v.source !== 'pipeline-invocation');
    if (pluginVariables.length) {
      io.out('\nVariables declared by packages:\n');
      io.out(
        pluginVariables
          .map(
            (v) =>
              `  ${v.name}${v.secret ? ' (secret)' : ''}: ${v.description} [${v.source}; ${environment[v.name] === undefined ? 'unset' : 'set'}]\n`,
          )
          .join(''),
      );
    }
    io.out(`\nPlugins (from ${discovery.hostPackageJson ?? 'no package.json'}):\n`);
    io.out(
      plugins
        .map(
          (p) =>
            `  ${p.package}@${p.version}  services: ${p.services.join(', ')}  compatible: ${p.compatible ? 'yes' : `no: ${p.incompatibility}`}\n`,
        )
        .join('') || '  (none)\n',
    );
    io.out(`\nChecks:\n${checks.map((c) => `  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}\n`).join('')}`);
  }
  if (configErrors.length) return EXIT.INVALID_INPUT;
  if (!storeOk) return EXIT.STORAGE_FAILED;
  return checks.every((c) => c.ok) ? EXIT.OK : EXIT.HANDLER_FAILED;
}

async function checkTracker(config: TrackingConfig): Promise<Check> {
  if (config.mode === 'off') return { name: 'tracker', ok: true, detail: 'W&B off (no WANDB_API_KEY)' };
  if (config.mode === 'disabled') return { name: 'tracker', ok: true, detail: 'W&B disabled (WANDB_MODE=disabled)' };
  if (config.mode === 'offline')
    return { name: 'tracker', ok: true, detail: `W&B offline: runs written to ${config.offlineDir}` };
  try {
    const response = await withTimeout(
      fetch(`${config.baseUrl}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`api:${config.apiKey}`).toString('base64')}`,
        },
        body: JSON.stringify({ query: 'query Viewer { viewer { id entity } }' }),
      }),
      5000,
      `${config.baseUrl} did not answer within 5 s`,
    );
    if (response.ok)
      return { name: 'tracker', ok: true, detail: `W&B at ${config.baseUrl} reachable, API key accepted` };
    return {
      name: 'tracker',
      ok: false,
      detail: `W&B at ${config.baseUrl} answered HTTP ${response.status}: check WANDB_API_KEY`,
    };
  } catch (error) {
    return { name: 'tracker', ok: false, detail: `W&B at ${config.baseUrl} unreachable: ${describe(error)}` };
  }
}

/** Show whether a secret is set, never its value; a password inside a URL is masked too. */
function mask(name: string, value: string | undefined, secretNames: ReadonlySet<string>): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (secretNames.has(name) || (isSecretEnvName(name) && name !== 'AWS_ACCESS_KEY_ID'))
    return `(set, ${value.length} characters)`;
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):([^@/]*)@/i, '$1:****@');
}

/** An environment variable and who reads it. */
interface DeclaredVariable extends EnvVariable {
  /** `pipeline-invocation` for the host's own, else the package that declares it. */
  readonly source: string;
}

/**
 * The variables to show: the host's own ({@link HOST_VARIABLES}), those the discovered plugins
 * declare in their manifests, and the worker's and the dashboard's when they are installed. Nothing here names a
 * plugin's variables: each package declares its own.
 */
function declaredVariables(plugins: readonly DiscoveredPlugin[]): DeclaredVariable[] {
  const found: DeclaredVariable[] = HOST_VARIABLES.map((v) => ({ ...v, source: 'pipeline-invocation' }));
  for (const plugin of plugins) found.push(...plugin.env.map((v) => ({ ...v, source: plugin.packageName })));
  for (const extra of ['@pipeline-invocation/worker', '@pipeline-invocation/dashboard'])
    found.push(...optionalPackageVariables(extra));
  const seen = new Set<string>();
  return found.filter((v) => !seen.has(v.name) && seen.add(v.name));
}

/** The `pipelineInvocationEnv` list of an optional package's package.json, when it is installed. */
function optionalPackageVariables(packageName: string): DeclaredVariable[] {
  try {
    const file = require.resolve(`${packageName}/package.json`);
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { pipelineInvocationEnv?: unknown };
    if (checkEnvDeclarations(manifest.pipelineInvocationEnv)) return [];
    return ((manifest.pipelineInvocationEnv ?? []) as EnvVariable[]).map((v) => ({ ...v, source: packageName }));
  } catch {
    return []; // not installed
  }
}
