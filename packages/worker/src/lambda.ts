// AWS Lambda entry point. Imports the invoker only (no BullMQ, no Redis).
import type { IntegrationResponse } from '@pipeline-invocation/core';
import {
  createInvoker,
  startTelemetry,
  type Invoker,
  type InvokerConfig,
  type Telemetry,
} from '@pipeline-invocation/invoker';

/** The part of the Lambda context we use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Options of {@link createLambdaHandler}. */
export interface LambdaHandlerOptions {
  /** Invoker configuration (default: from the environment, plugins from the bundle's package.json). */
  invoker?: InvokerConfig | Invoker;
  /**
   * Time kept back from the Lambda's remaining time to write the record (ms). Default: the
   * invoker's cancel grace (a timed-out handler's time to settle) plus its
   * {@link Invoker.finalWriteBudgetMs} (store retry delays, write attempts and the tracker's init
   * and finish timeouts), so a slow store still gets its final record in, and W&B its run, before
   * the freeze.
   */
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
  let telemetry: Telemetry | undefined;
  let margin = 0;
  return async (event: unknown, context?: LambdaContextLike): Promise<IntegrationResponse> => {
    const remaining = context?.getRemainingTimeInMillis();
    if (!invoker) {
      invoker = isInvoker(options.invoker) ? options.invoker : createInvoker(options.invoker);
      // a timed-out handler is given its cancel grace to settle before TIMED_OUT is written: kept back too
      margin = options.safetyMarginMs ?? invoker.finalWriteBudgetMs() + invoker.lifecycle.cancelGraceMs;
      // OpenTelemetry export when the function's environment asks for it
      telemetry = await startTelemetry(process.env, { logger: invoker.logger });
      // At cold start the remaining time is about the function's configured timeout.
      if (remaining !== undefined && remaining < 2 * margin) {
        invoker.logger.warn(
          `the Lambda timeout leaves ${remaining} ms, and ${margin} ms of it are kept to write the run record ` +
            '(store retries and the tracker): raise the function timeout, or handlers get little time and runs end TIMED_OUT',
          { remaining_ms: remaining, margin_ms: margin },
        );
      }
    }
    const timeoutMs = remaining === undefined ? undefined : Math.max(1, remaining - margin);
    try {
      return await invoker.routeAndRunIntegrationRequest(event, { timeoutMs });
    } finally {
      // Lambda may freeze the process once the handler returns: W&B and the spans go out first
      await Promise.allSettled([invoker.flushTracking(), telemetry?.flush()]);
    }
  };
}

function isInvoker(value: unknown): value is Invoker {
  return typeof (value as Invoker | undefined)?.routeAndRunIntegrationRequest === 'function';
}
