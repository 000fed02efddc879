import { getEventListeners } from 'node:events';
import { labelForTest, queuePair } from './helpers/queues';
import {
  AbortWatch,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_IN_FLIGHT_CAP,
  SqliteQueue,
  defaultMaxInFlight,
  type Classifier,
} from '../src';
import { sleep } from '../src/pacing/sleep';

let counter = 0;
const post = () => ({
  uri: `at://in-flight/${++counter}`,
  text: `a post long enough to send, number ${counter}`,
  preprocessing_timestamp: '2026-11-20-10:00:00',
});

const queues = queuePair;

/**
 * A classifier whose answers take `latencyMs` (a real timer); it records how many of its
 * requests were open at once, and the abort listeners on the signal it was given.
 */
function slowClassifier(latencyMs: number, batchSize = 1) {
  const seen = { open: 0, mostOpen: 0, requests: 0, mostAbortListeners: 0 };
  const classifier: Classifier = {
    name: 'slow_model',
    batchSize,
    async score(texts, signal) {
      seen.requests += 1;
      seen.open += 1;
      seen.mostOpen = Math.max(seen.mostOpen, seen.open);
      seen.mostAbortListeners = Math.max(seen.mostAbortListeners, getEventListeners(signal, 'abort').length);
      try {
        await sleep(latencyMs, signal);
        return { ok: true, labels: texts.map(() => ({ prob_slow: 0.5, label_model: 'slow-v1' })) };
      } finally {
        seen.open -= 1;
      }
    },
  };
  return { classifier, seen };
}

const run = labelForTest;

describe('requests in flight', () => {
  it('are never more than pacing.maxInFlight, however far the API falls behind the rate; every post is labelled', async () => {
    const q = queues([Array.from({ length: 60 }, post)]);
    const { classifier, seen } = slowClassifier(20);
    const result = await run({
      input: q.input,
      output: q.output,
      classifier,
      pacing: { requestsPerSecond: 10_000, maxAttempts: 2, retryBaseMs: 1, maxInFlight: 3 },
    });
    expect(result.labelled).toBe(60);
    expect(seen.requests).toBe(60);
    expect(seen.mostOpen).toBe(3);
    expect([...q.input.rows()]).toEqual([]);
    q.close();
  });

  it(`are at most ${DEFAULT_MAX_IN_FLIGHT_CAP} by default at a high rate, where a page used to start all its requests at once`, async () => {
    // 10,000 requests/s (the helper's rate): a page's 100 requests are ready at once
    const q = queues([Array.from({ length: 100 }, post)]);
    const { classifier, seen } = slowClassifier(20);
    const result = await run({ input: q.input, output: q.output, classifier });
    expect(result.labelled).toBe(100);
    expect(seen.mostOpen).toBe(DEFAULT_MAX_IN_FLIGHT_CAP);
    q.close();
  });

  it('of a batch classifier can fill the bound: its pages grow to half of it (two are open at once)', async () => {
    // batches of 32 posts: pages of 8 requests held a run to 16 open, whatever maxInFlight said
    const q = queues(Array.from({ length: 60 }, () => Array.from({ length: 32 }, post)));
    const { classifier, seen } = slowClassifier(200, 32);
    const result = await run({
      input: q.input,
      output: q.output,
      classifier,
      pacing: { requestsPerSecond: 10_000, maxAttempts: 2, retryBaseMs: 1, maxInFlight: 40 },
    });
    expect(result.labelled).toBe(60 * 32);
    expect(seen.mostOpen).toBe(40);
    q.close();
  });

  it(`default to a second's worth of requests at the rate, at least ${DEFAULT_MAX_IN_FLIGHT} and at most ${DEFAULT_MAX_IN_FLIGHT_CAP}`, () => {
    expect([0.2, 1, 8, 8.5, 20, 64, 65, 10_000].map(defaultMaxInFlight)).toEqual([8, 8, 8, 9, 20, 64, 64, 64]);
  });

  it('hear the run abort through one listener on its signal, not one per request or pacing sleep', async () => {
    // a low rate: every request waits for its slot in a pacing sleep, and each request sleeps too
    const q = queues([Array.from({ length: 40 }, post)]);
    const { classifier, seen } = slowClassifier(30);
    const result = await run({
      input: q.input,
      output: q.output,
      classifier,
      pacing: { requestsPerSecond: 400, maxAttempts: 2, retryBaseMs: 1, maxInFlight: 8 },
    });
    expect(result.labelled).toBe(40);
    expect(seen.mostOpen).toBeGreaterThan(4);
    // the engine's own listener and the signal's AbortWatch: the same two with 8 requests open
    expect(seen.mostAbortListeners).toBeLessThanOrEqual(2);
    q.close();
  });
});

describe('AbortWatch', () => {
  it('calls each wait still watched once with the reason when the signal aborts, through a single listener', () => {
    const controller = new AbortController();
    const watch = AbortWatch.of(controller.signal);
    expect(AbortWatch.of(controller.signal)).toBe(watch);
    const called: unknown[] = [];
    const slots = Array.from({ length: 50 }, (_, i) => watch.add((reason) => called.push([i, reason])));
    for (const slot of slots.slice(0, 48)) watch.remove(slot); // 48 waits ended before the abort
    expect(watch.size).toBe(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('cancelled');
    controller.abort(reason);
    expect(called).toEqual([
      [48, reason],
      [49, reason],
    ]);
    expect(watch.size).toBe(0);
    // a wait added once the signal has aborted is told at once
    watch.add((late) => called.push(['late', late]));
    expect(called.at(-1)).toEqual(['late', reason]);
  });

  it('reuses the slots of ended waits: a long run does not grow it', () => {
    const watch = AbortWatch.of(new AbortController().signal);
    for (let i = 0; i < 10_000; i++) watch.remove(watch.add(() => {}));
    const open = Array.from({ length: 8 }, () => watch.add(() => {}));
    expect(Math.max(...open)).toBeLessThan(8);
  });

  it('lets every pacing sleep on a signal end at its abort, with one listener for all of them', async () => {
    const controller = new AbortController();
    const sleeps = Array.from({ length: 20 }, () => sleep(60_000, controller.signal));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('run cancelled'));
    const settled = await Promise.allSettled(sleeps);
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'run cancelled')).toBe(true);
  });
});
