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
 * (`PipelineHandlerRegistry.register`), as the seed library did.
 */
export function defaultInvoker(): Invoker {
  shared ??= createInvoker({ fallbackRegistry: PipelineHandlerRegistry.default });
  return shared;
}

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

/** Run a request with the default invoker; see {@link Invoker.runIntegrationRequest}. */
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
