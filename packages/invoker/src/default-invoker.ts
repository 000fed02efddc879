import {
  PipelineHandlerRegistry,
  type IntegrationRequest,
  type IntegrationResponse,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import type { InvokeOptions } from './executor';
import { createInvoker, type Invoker } from './invoker';
import type { SeedCollaborators } from './seed-collaborators';

let shared: Invoker | undefined;

/**
 * The invoker behind the top-level functions, built from the environment on first use. It
 * serves the installed plugins and the services registered through the static facade
 * (`PipelineHandlerRegistry.register`), as the seed library did. Once closed, the next call
 * builds a new one.
 */
export function defaultInvoker(): Invoker {
  if (!shared || shared.closed) shared = createInvoker({ fallbackRegistry: PipelineHandlerRegistry.default });
  return shared;
}

// The static facade (PipelineHandlerRegistry.listServices / getHandler) sees every installed
// plugin through the default invoker, built only when the facade is asked.
PipelineHandlerRegistry.default.attachProvider(() => defaultInvoker());

/**
 * Run `service` with `payload` using the default invoker (plugins discovered from the nearest
 * package.json, store and tracker from the environment). Returns the run's record.
 *
 * @example
 * const record = await invokePipelineHandler('ml_inference_perspective_api', { run_type: 'backfill',
 *   backfill_period: 'days', backfill_duration: 2 }, { request_id: '123' });
 */
export function invokePipelineHandler(
  service: string,
  payload: unknown,
  requestMetadata?: unknown,
  options?: InvokeOptions,
): Promise<RunExecutionMetadata> {
  return defaultInvoker().invokePipelineHandler(service, payload, requestMetadata, options);
}

/**
 * Run a request with the default invoker, with the original's overrides (`wandbLogger`,
 * `loadMetadata`, `writeMetadata`); see {@link Invoker.runIntegrationRequest}.
 *
 * @example
 * const record = await runIntegrationRequest(
 *   { service: 'ml_inference_perspective_api', payload: { run_type: 'backfill' }, metadata: {} },
 *   { wandbLogger: (service, record) => console.log(service, record.status_code), writeMetadata: saveToMyTable },
 * );
 */
export function runIntegrationRequest(
  request: IntegrationRequest | unknown,
  overrides?: SeedCollaborators & InvokeOptions,
): Promise<RunExecutionMetadata> {
  return defaultInvoker().runIntegrationRequest(request, overrides);
}

/** Route a request with the default invoker; never throws. See {@link Invoker.routeAndRunIntegrationRequest}. */
export function routeAndRunIntegrationRequest(request: unknown, options?: InvokeOptions): Promise<IntegrationResponse> {
  return defaultInvoker().routeAndRunIntegrationRequest(request, options);
}

/**
 * Wait until W&B has every finished run of the default invoker (each within
 * `PIPELINE_WANDB_TIMEOUT_MS`); nothing to wait for when no run was tracked. A script that simply
 * ends needs no call: its process stays until the tracking is delivered, then exits. Call this
 * before `process.exit()` (which would drop it) and before a Lambda-like host freezes the process;
 * to also release the store, `await defaultInvoker().close()` instead.
 *
 * @example
 * await invokePipelineHandler('ml_inference_perspective_api', { run_type: 'prod' });
 * await flushTracking();
 * process.exit(0);
 */
export async function flushTracking(): Promise<void> {
  await shared?.flushTracking();
}
