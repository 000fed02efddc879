import { CONTRACT_VERSION, describe } from '@pipeline-invocation/core';
import { createRunStore, storageConfigFromEnv } from '@pipeline-invocation/storage';
import {
  isSecretEnvName,
  parseLogLevel,
  trackingConfigFromEnv,
  type TrackingConfig,
} from '@pipeline-invocation/observability';
import { discoverPlugins, servicesOf } from '../../discovery/manifest';
import { checkContract } from '../../discovery/plugin-loader';
import { lifecycleConfig } from '../../config';
import { EXIT } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline doctor [--json]

Show the configuration in effect (secrets masked), the handler plugins found, and whether the
run store and the tracker can be reached. Every invalid configuration value is flagged.
Exit code 0 when all is well, 2 when a configuration value is invalid, 4 when the store cannot
be used, 1 for any other problem.
`;

/** The variables that configure pipeline-invocation and its plugins. */
const VARIABLES = [
  'PIPELINE_STORE',
  'PIPELINE_HOME',
  'PIPELINE_ROOT',
  'PIPELINE_DYNAMODB_TABLE',
  'PIPELINE_OUTBOX',
  'PIPELINE_SQLITE_BUSY_MS',
  'PIPELINE_TIMEOUT_MS',
  'PIPELINE_HEARTBEAT_MS',
  'PIPELINE_STALE_AFTER_MS',
  'PIPELINE_CANCEL_GRACE_MS',
  'PIPELINE_WANDB_TIMEOUT_MS',
  'AWS_REGION',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'WANDB_API_KEY',
  'WANDB_MODE',
  'WANDB_PROJECT',
  'WANDB_ENTITY',
  'WANDB_BASE_URL',
  'PERSPECTIVE_API_KEY',
  'GOOGLE_API_KEY',
  'PERSPECTIVE_API_URL',
  'PERSPECTIVE_QPS',
  'BSKY_DATA_DIR',
  'REDIS_URL',
  'LOG_LEVEL',
];

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** `pipeline doctor`. */
export async function doctor(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('doctor', args, { json: { type: 'boolean' } }, false);
  if (values.help) return (void io.out(HELP), EXIT.OK);

  const environment = Object.fromEntries(
    VARIABLES.map((name) => [name, mask(name, io.env[name])] as const).filter(([, v]) => v !== undefined),
  );
  const discovery = discoverPlugins({ root: io.env.PIPELINE_ROOT || undefined });
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
  const configErrors = (
    [
      ['storage', () => storageConfigFromEnv(io.env, io.cwd)],
      ['tracking', () => trackingConfigFromEnv(io.env, io.cwd)],
      ['run lifecycle', () => lifecycleConfig(io.env)],
      ['logging', () => parseLogLevel(io.env.LOG_LEVEL)],
    ] as const
  ).flatMap(([part, read]) => {
    try {
      read();
      return [];
    } catch (error) {
      return [{ name: `configuration (${part})`, ok: false, detail: describe(error) }];
    }
  });
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
  for (const p of plugins.filter((p) => !p.compatible))
    checks.push({ name: `plugin ${p.package}`, ok: false, detail: `incompatible: ${p.incompatibility}` });

  const report = {
    contract: CONTRACT_VERSION,
    hostPackageJson: discovery.hostPackageJson ?? null,
    environment,
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

/** Show whether a secret is set, never its value. */
function mask(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (isSecretEnvName(name) && name !== 'AWS_ACCESS_KEY_ID') return `(set, ${value.length} characters)`;
  if (name === 'REDIS_URL') return value.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:****@');
  return value;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
