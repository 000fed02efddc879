// OpenTelemetry through its API only: with no SDK registered every call here is a no-op (the
// API's global providers are no-ops), so an invocation costs the same; with one registered
// (`startTelemetry` in @pipeline-invocation/observability, or the host's own), runs become spans
// and metrics. Until something registers with the API, the API itself (51 modules) is not even
// loaded: every one of its calls would be a no-op, so skipping them changes nothing.
import type * as OtelApi from '@opentelemetry/api';
import type { Attributes, Context, Counter, Histogram, Meter, Span, SpanContext, SpanKind } from '@opentelemetry/api';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { INVOKER_VERSION } from './version';

export type { Context, Span, SpanKind };

const SCOPE = '@pipeline-invocation/invoker';

/** Where the API keeps what was registered with it (its global, shared by every copy of API 1.x). */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');
let loaded: typeof OtelApi | undefined;

/**
 * The OpenTelemetry API once anything (an SDK, a host's own provider or propagator) has
 * registered with it; until then `undefined`, and the API is not loaded.
 */
function otel(): typeof OtelApi | undefined {
  if (!loaded && (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('@opentelemetry/api') as typeof OtelApi;
  return loaded;
}

const INVALID_SPAN_CONTEXT: SpanContext = {
  traceId: '00000000000000000000000000000000',
  spanId: '0000000000000000',
  traceFlags: 0,
};

/** A span that records nothing: the span of a run with no SDK, or of an invoker with `telemetry: false`. */
export const NO_SPAN: Span = {
  spanContext: () => INVALID_SPAN_CONTEXT,
  setAttribute: () => NO_SPAN,
  setAttributes: () => NO_SPAN,
  addEvent: () => NO_SPAN,
  addLink: () => NO_SPAN,
  addLinks: () => NO_SPAN,
  setStatus: () => NO_SPAN,
  updateName: () => NO_SPAN,
  end: () => {},
  isRecording: () => false,
  recordException: () => {},
};

/** `SpanStatusCode.OK` and `ERROR` (the API's enum values, without loading the API). */
const OK = 1;
const ERROR = 2;

/**
 * Run `fn` inside a new active span (a child of `parent`, default the active context); the span
 * ends when `fn` settles, with the exception recorded and an error status when it throws.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context; off?: boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const api = options.off ? undefined : otel();
  // no SDK: `fn`'s own promise (not an async wrapper around it: a run passes here several times)
  if (!api) return fn(NO_SPAN);
  const parent = options.parent ?? api.context.active();
  return api.trace
    .getTracer(SCOPE, INVOKER_VERSION)
    .startActiveSpan(
      name,
      { kind: options.kind ?? api.SpanKind.INTERNAL, attributes: options.attributes },
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
  if (!span.isRecording()) return;
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The trace id of `span`, when it belongs to a real trace (an SDK is recording). */
export function traceIdOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  const api = otel();
  return api?.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
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
  if (record.status === 'SUCCEEDED') span.setStatus({ code: OK });
  else {
    if (record.error) span.recordException({ name: record.error.name, message: record.error.message });
    span.setStatus({ code: ERROR, message: `${record.status}: ${record.body}`.slice(0, 500) });
  }
}

let instruments: { meter: Meter; runs: Counter; duration: Histogram } | undefined;

/**
 * Count a finished run (`pipeline.runs`, by service and status) and its duration
 * (`pipeline.run.duration`, ms). The meter is looked up each time: an SDK may register after
 * the first run.
 */
export function recordRunMetrics(record: RunExecutionMetadata): void {
  const api = otel();
  if (!api) return;
  const meter = api.metrics.getMeter(SCOPE, INVOKER_VERSION);
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

/**
 * {@link inSpan} with {@link runSpan}'s name and options: `fn` inside the run's span. With no SDK
 * (or `off`), `fn` gets {@link NO_SPAN} at once, without the span's name and options being made
 * (a worker passes here each run).
 */
export function inRunSpan<T>(
  service: string,
  options: { spanKind?: SpanKind; traceContext?: Context },
  off: boolean,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (off || !otel()) return fn(NO_SPAN);
  return inSpan(...runSpan(service, options, off), fn);
}

/** The name and options of a run's span, `pipeline.invoke <service>`. */
export function runSpan(
  service: string,
  options: { spanKind?: SpanKind; traceContext?: Context },
  off = false,
): [string, { kind?: SpanKind; parent?: Context; attributes: Attributes; off: boolean }] {
  return [
    `pipeline.invoke ${service}`,
    {
      kind: options.spanKind, // INTERNAL when unset
      parent: options.traceContext,
      attributes: { 'pipeline.service': service },
      off,
    },
  ];
}
