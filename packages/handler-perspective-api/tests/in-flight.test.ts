import { getEventListeners } from 'node:events';
import { ATTRIBUTE_NAMES, PerspectiveClassifier, perspectiveConfigFromEnv } from '../src';
import { startFakePerspective, type FakePerspective } from './helpers/perspective-server';
import { perspectiveKit } from './helpers/kit';
import { enqueue, post, readQueue } from './helpers/queues';

let server: FakePerspective;
afterEach(async () => {
  await server.stop();
});

describe('requests in flight', () => {
  it("are at most PERSPECTIVE_MAX_IN_FLIGHT at once (by default a second's worth at the rate) when the API answers more slowly than the rate", async () => {
    // 1000 requests/s against answers that take 40 ms: without a bound, a page would have 100 open
    server = await startFakePerspective({ latencyMs: 40 });
    const bounded = perspectiveKit(server.baseUrl, { qps: 1000, maxInFlight: 3 });
    enqueue(bounded.config, [Array.from({ length: 30 }, (_, i) => post(`a post sent three at a time ${i}`))]);
    expect((await bounded.run()).status).toBe('SUCCEEDED');
    expect(server.maxInFlight).toBe(3);
    expect(readQueue(bounded.files.output).flatMap((r) => r.items)).toHaveLength(30);

    // by default a second's worth of requests at the rate (8 to 64): at 10/s against answers that
    // take 1.6 s, 10 open at once, where the fixed default of 8 held the run to 5 requests/s
    await server.stop();
    server = await startFakePerspective({ latencyMs: 1600 });
    const byDefault = perspectiveKit(server.baseUrl, { qps: 10 });
    enqueue(byDefault.config, [Array.from({ length: 14 }, (_, i) => post(`a post sent ten at a time ${i}`))]);
    expect((await byDefault.run()).status).toBe('SUCCEEDED');
    expect(server.maxInFlight).toBe(10);
    expect(readQueue(byDefault.files.output).flatMap((r) => r.items)).toHaveLength(14);
  });

  it('end at the run abort, heard through one listener on the run signal however many are open', async () => {
    server = await startFakePerspective();
    const classifier = new PerspectiveClassifier({
      apiKey: 'k',
      baseUrl: server.baseUrl,
      requestTimeoutMs: 60_000,
      attributes: ATTRIBUTE_NAMES,
    });
    const run = new AbortController();
    try {
      const answers = Array.from({ length: 12 }, (_, i) =>
        classifier.score([`[slow] never answered ${i}`], run.signal),
      );
      while (server.requests.length < 12) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(getEventListeners(run.signal, 'abort')).toHaveLength(1);
      run.abort(new Error('run cancelled'));
      const settled = await Promise.allSettled(answers);
      expect(settled.map((s) => s.status === 'rejected' && (s.reason as Error).message)).toEqual(
        Array(12).fill('run cancelled'),
      );
    } finally {
      classifier.close();
    }
    await server.allClosed();
  });
});

describe('PERSPECTIVE_MAX_IN_FLIGHT', () => {
  it('is read from the environment, left to the engine when unset, and refused when not a whole number of at least 1', () => {
    expect(perspectiveConfigFromEnv({}).maxInFlight).toBeUndefined();
    expect(perspectiveConfigFromEnv({ PERSPECTIVE_MAX_IN_FLIGHT: '32' }).maxInFlight).toBe(32);
    expect(() => perspectiveConfigFromEnv({ PERSPECTIVE_MAX_IN_FLIGHT: 'many' })).toThrow(
      'PERSPECTIVE_MAX_IN_FLIGHT must be a number',
    );
    expect(() => perspectiveConfigFromEnv({ PERSPECTIVE_MAX_IN_FLIGHT: '0' })).toThrow(
      'PERSPECTIVE_MAX_IN_FLIGHT must be at least 1',
    );
    expect(() => perspectiveConfigFromEnv({ PERSPECTIVE_MAX_IN_FLIGHT: '2.5' })).toThrow(
      'PERSPECTIVE_MAX_IN_FLIGHT must be a whole number',
    );
  });
});
