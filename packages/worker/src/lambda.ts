// AWS Lambda entry point. Imports the invoker only (no BullMQ, no Redis).
import type { IntegrationResponse } from '@pipeline-invocation/core';
import { createInvoker, type Invoker, type InvokerConfig } from '@pipeline-invocation/invoker';

/** The part of the Lambda context we use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Options of {@link createLambdaHandler}. */
export interface LambdaHandlerOptions {
  /** Invoker configuration (default: from the environment, plugins from the bundle's package.json). */
  invoker?: InvokerConfig | Invoker;
  /** Time kept back from the Lambda's remaining time to write the record (ms; default 2000). */
  safetyMarginMs?: number;
}

/**
 * A Lambda handler: takes an `IntegrationRequest` event, returns the `IntegrationResponse`
 * (never throws), and gives the handler the Lambda's remaining time (less a margin) as its
 * timeout, so a run that would be killed by Lambda is recorded as TIMED_OUT instead.
 *
 * @example
 * // index.js of the function
 * exports.handler = require('@pipeline-invocation/worker/lambda').createLambdaHandler();
 */
export function createLambdaHandler(options: LambdaHandlerOptions = {}) {
  let invoker: Invoker | undefined;
  const margin = options.safetyMarginMs ?? 2000;
  return async (event: unknown, context?: LambdaContextLike): Promise<IntegrationResponse> => {
    invoker ??= isInvoker(options.invoker) ? options.invoker : createInvoker(options.invoker);
    const remaining = context?.getRemainingTimeInMillis();
    const timeoutMs = remaining === undefined ? undefined : Math.max(1, remaining - margin);
    return invoker.routeAndRunIntegrationRequest(event, { timeoutMs });
  };
}

function isInvoker(value: unknown): value is Invoker {
  return typeof (value as Invoker | undefined)?.routeAndRunIntegrationRequest === 'function';
}
