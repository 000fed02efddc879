import type * as OtelApi from '@opentelemetry/api';

/** Where the OpenTelemetry API keeps what was registered with it (shared by every copy of API 1.x). */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/**
 * The W3C `traceparent` of the active span, for the Python process's `TRACEPARENT`, so spans the
 * handler makes join the run's trace. `undefined` when no span records. The API is loaded only
 * once something registered with it (otherwise there is no span to propagate).
 */
export function activeTraceparent(): string | undefined {
  if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api = require('@opentelemetry/api') as typeof OtelApi;
  const active = api.context.active();
  const span = api.trace.getSpan(active);
  if (!span || !span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  api.propagation.inject(active, carrier);
  if (carrier.traceparent) return carrier.traceparent;
  // no propagator registered: the span context says the same in W3C's format
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
