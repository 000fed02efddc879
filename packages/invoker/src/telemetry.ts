// OpenTelemetry through its API only: with no SDK registered every call here is a no-op (the
// API's global providers are no-ops), so an invocation costs the same; with one registered
// (`startTelemetry` in @pipeline-invocation/observability, or the host's own), runs become spans
// and metrics.
import {
  SpanKind,
  SpanStatusCode,
  INVALID_SPAN_CONTEXT,
  context,
  isSpanContextValid,
  metrics,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type Span,
} from '@opentelemetry/api';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { INVOKER_VERSION } from './version';

export { SpanKind, type Context, type Span };

const SCOPE = '@pipeline-invocation/invoker';

/** The span of an invoker created with `telemetry: false`: records nothing, starts no trace. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The tracer of the invoker (the API's global provider: a no-op until an SDK registers). */
export const tracer = () => trace.getTracer(SCOPE, INVOKER_VERSION);

/**
 * Run `fn` inside a new active span (a child of `parent`, default the active context); the span
 * ends when `fn` settles, with the exception recorded and an error status when it throws.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context; off?: boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (options.off) return fn(NO_SPAN);
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        fail(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Record `error` on `span` and mark it failed. */
export function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The trace id of `span`, when it belongs to a real trace (an SDK is recording). */
export function traceIdOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** The attributes of a run span that the record knows. */
export function recordAttributes(record: RunExecutionMetadata): Attributes {
  return {
    'pipeline.service': record.service,
    'pipeline.run_id': record.run_id,
    ...(record.run_type ? { 'pipeline.run_type': record.run_type } : {}),
    'pipeline.status': record.status,
    'pipeline.status_code': record.status_code,
    'pipeline.handler.package': record.handler_package,
    'pipeline.handler.version': record.handler_version,
    'pipeline.idempotency_key.present': record.idempotency_key !== undefined,
    'pipeline.replayed': record.replayed === true,
  };
}

/** Set a finished run's attributes and status on its span. */
export function endRun(span: Span, record: RunExecutionMetadata): void {
  if (!span.isRecording()) return;
  span.setAttributes(recordAttributes(record));
  if (record.status === 'SUCCEEDED') span.setStatus({ code: SpanStatusCode.OK });
  else {
    if (record.error) span.recordException({ name: record.error.name, message: record.error.message });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${record.status}: ${record.body}`.slice(0, 500) });
  }
}

let instruments: { meter: Meter; runs: Counter; duration: Histogram } | undefined;

/**
 * Count a finished run (`pipeline.runs`, by service and status) and its duration
 * (`pipeline.run.duration`, ms). The meter is looked up each time: an SDK may register after
 * the first run.
 */
export function recordRunMetrics(record: RunExecutionMetadata): void {
  const meter = metrics.getMeter(SCOPE, INVOKER_VERSION);
  if (instruments?.meter !== meter) {
    instruments = {
      meter,
      runs: meter.createCounter('pipeline.runs', { description: 'Runs that ended, by service and status' }),
      duration: meter.createHistogram('pipeline.run.duration', {
        description: 'Run duration, by service and status',
        unit: 'ms',
      }),
    };
  }
  const attributes = { 'pipeline.service': record.service, 'pipeline.status': record.status };
  instruments.runs.add(1, attributes);
  if (record.duration_ms !== undefined) instruments.duration.record(record.duration_ms, attributes);
}

/** The name and options of a run's span, `pipeline.invoke <service>`. */
export function runSpan(
  service: string,
  options: { spanKind?: SpanKind; traceContext?: Context },
  off = false,
): [string, { kind: SpanKind; parent?: Context; attributes: Attributes; off: boolean }] {
  return [
    `pipeline.invoke ${service}`,
    {
      kind: options.spanKind ?? SpanKind.INTERNAL,
      parent: options.traceContext,
      attributes: { 'pipeline.service': service },
      off,
    },
  ];
}
