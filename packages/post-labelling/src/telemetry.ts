// OpenTelemetry through its API only (no-ops until an SDK registers): a span per request to the
// classification API, and counts of the posts a run labelled, failed and rejected.
import { SpanKind, SpanStatusCode, context, metrics, trace, type Counter, type Meter } from '@opentelemetry/api';
import type { ClassifierAnswer } from './classifier';

const SCOPE = '@pipeline-invocation/post-labelling';

/**
 * Make one request inside a CLIENT span `<classifier> request`, a child of the active (handler)
 * span. A span that records nothing (no SDK registered, or the trace not sampled) is ended at
 * once and the request made without it: it would record nothing either, and making it the
 * active span costs a context and closures per request.
 */
export function requestSpan(
  classifier: string,
  posts: number,
  attempt: number,
  send: () => Promise<ClassifierAnswer>,
): Promise<ClassifierAnswer> {
  const parent = context.active();
  const span = trace.getTracer(SCOPE).startSpan(
    `${classifier} request`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'labelling.classifier': classifier, 'labelling.posts': posts, 'labelling.attempt': attempt },
    },
    parent,
  );
  if (!span.isRecording()) {
    span.end();
    return send();
  }
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      const answer = await send();
      if (!answer.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: answer.reason.slice(0, 300) });
      return answer;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

let counter: { meter: Meter; posts: Counter } | undefined;

/** Count posts by outcome (`pipeline.labelling.posts`: labelled, failed, rejected). */
export function countPosts(classifier: string, outcome: 'labelled' | 'failed' | 'rejected', n: number): void {
  if (n === 0) return;
  const meter = metrics.getMeter(SCOPE);
  if (counter?.meter !== meter)
    counter = { meter, posts: meter.createCounter('pipeline.labelling.posts', { description: 'Posts by outcome' }) };
  counter.posts.add(n, { 'labelling.classifier': classifier, 'labelling.outcome': outcome });
}
