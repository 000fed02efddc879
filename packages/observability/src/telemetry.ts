// Starts the OpenTelemetry Node SDK when the standard variables ask for export, and only then:
// `@opentelemetry/sdk-node` is an optional peer dependency, imported on demand. Spans and metrics
// themselves come from the packages that create them, through `@opentelemetry/api`.
import type * as OtelApi from '@opentelemetry/api';
import type { Logger } from '@pipeline-invocation/core';

/** A started (or inactive) telemetry export. */
export interface Telemetry {
  /** Whether an SDK was started (export is configured and the SDK is installed). */
  readonly active: boolean;
  /** Export what is buffered now (the Lambda entry does, before it returns). Bounded by the export timeout. */
  flush(): Promise<void>;
  /** Flush and stop (the CLI does, before it exits). Bounded by the export timeout plus 1 s. */
  shutdown(): Promise<void>;
}

const INACTIVE: Telemetry = { active: false, flush: async () => {}, shutdown: async () => {} };

/** Whether `env` asks for OTLP export: an OTLP endpoint is set and the SDK is not disabled. */
export function telemetryRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
    env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
  );
}

/**
 * Start OpenTelemetry export when `env` asks for it (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the
 * traces/metrics endpoints; `OTEL_SDK_DISABLED=true` turns it off): the Node SDK with the OTLP
 * exporters (`OTEL_EXPORTER_OTLP_PROTOCOL`, default http/protobuf), a batch span processor, and
 * every other standard variable (`OTEL_SERVICE_NAME`, default `pipeline-invocation`;
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`).
 * Unset: nothing is loaded and an inactive handle is returned. A collector that is down, slow
 * or failing never fails a run: its errors are logged once.
 */
export async function startTelemetry(
  env: NodeJS.ProcessEnv = process.env,
  options: { logger?: Logger } = {},
): Promise<Telemetry> {
  if (!telemetryRequested(env)) return INACTIVE;
  const logger = options.logger;
  let sdkModule: typeof import('@opentelemetry/sdk-node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when export is asked for
    sdkModule = require('@opentelemetry/sdk-node');
  } catch {
    logger?.warn(
      'OTEL_EXPORTER_OTLP_ENDPOINT is set but @opentelemetry/sdk-node is not installed: npm install @opentelemetry/sdk-node to export traces and metrics',
    );
    return INACTIVE;
  }
  // the API, like the SDK, only when export is asked for (a run without it never loads either)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api = require('@opentelemetry/api') as typeof OtelApi;
  // export failures reach OpenTelemetry's diag logger: say the first one, once
  let said = false;
  api.diag.setLogger(
    {
      error: (message: string, ...args: unknown[]) => {
        if (said) return;
        said = true;
        logger?.warn(
          `OpenTelemetry export failed (runs go on; further failures are not logged): ${message} ${args.map(String).join(' ')}`.trim(),
        );
      },
      warn: () => {},
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: api.DiagLogLevel.ERROR, suppressOverrideMessage: true },
  );
  const sdk = new sdkModule.NodeSDK({ serviceName: env.OTEL_SERVICE_NAME || 'pipeline-invocation' });
  sdk.start();
  const timeoutMs = Number(env.OTEL_EXPORTER_OTLP_TIMEOUT) > 0 ? Number(env.OTEL_EXPORTER_OTLP_TIMEOUT) : 10_000;
  const bounded = (work: Promise<unknown>) =>
    Promise.race([
      work.catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 1000).unref()),
    ]).then(() => {});
  return {
    active: true,
    flush: () => bounded(flushProviders(api)),
    shutdown: () => bounded(sdk.shutdown()),
  };
}

/** Ask the registered tracer and meter providers to export what they hold. */
async function flushProviders(api: typeof OtelApi): Promise<void> {
  type Flushable = { forceFlush?: () => Promise<void>; getDelegate?: () => Flushable };
  const tracerProvider = api.trace.getTracerProvider() as Flushable;
  const meterProvider = api.metrics.getMeterProvider() as Flushable;
  await Promise.all([(tracerProvider.getDelegate?.() ?? tracerProvider).forceFlush?.(), meterProvider.forceFlush?.()]);
}
