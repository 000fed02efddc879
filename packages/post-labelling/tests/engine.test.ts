import { labelForTest, queuePair } from './helpers/queues';
import { ClassifierGoneError, RateLimiter, SqliteQueue, parseDuration, type Classifier } from '../src';

let counter = 0;
const post = (text = `a post long enough, number ${++counter}`) => ({
  uri: `at://engine/${++counter}`,
  text,
  preprocessing_timestamp: '2026-11-20-10:00:00',
});

/** Fresh input and output queue files; `rows` of posts are put on the input. */
const queues = queuePair;

/** A classifier that labels each text with its length and records the batches it was sent. */
function lengthClassifier(batchSize: number, answer?: (texts: readonly string[]) => Promise<never> | undefined) {
  const batches: string[][] = [];
  const classifier: Classifier = {
    name: 'length_model',
    batchSize,
    async score(texts, signal) {
      batches.push([...texts]);
      const special = answer?.(texts);
      if (special) return special;
      signal.throwIfAborted();
      return { ok: true, labels: texts.map((t) => ({ prob_long: t.length / 100, label_model: 'length-v1' })) };
    },
  };
  return { classifier, batches };
}

const run = labelForTest;

const labels = (output: SqliteQueue) => [...output.rows()].flatMap((r) => JSON.parse(r.payload));

describe('labelQueue with any classifier', () => {
  it("sends full requests: the posts of a page's part-filled last request ride in the next page's first", async () => {
    // rows of 5 posts, pages of about 8 posts: pages end on whole rows (10 posts), batches of 4
    const rows = Array.from({ length: 6 }, () => Array.from({ length: 5 }, () => post()));
    const q = queues(rows);
    const { classifier, batches } = lengthClassifier(4);
    const result = await run({ input: q.input, output: q.output, classifier, pagePosts: 8 });
    expect(result.labelled).toBe(30);
    // 30 posts in requests of 4: seven full ones and the rest (2) at the very end
    expect(batches.map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 4, 4, 2]);
    expect(batches.flat().sort()).toEqual(
      rows
        .flat()
        .map((p) => p.text)
        .sort(),
    );
    const written = labels(q.output);
    expect(written).toHaveLength(30);
    expect(written[0]).toMatchObject({ was_successfully_labeled: true, label_model: 'length-v1' });
    expect([...q.input.rows()]).toEqual([]);
    q.close();
  });

  it('stops at an API that is gone: ClassifierGoneError, nothing requeued, the input untouched', async () => {
    const rows = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => post()));
    const q = queues(rows);
    const gone = lengthClassifier(
      4,
      () => Promise.resolve({ ok: false, reason: 'x_410: Gone', retryable: false, gone: true }) as never,
    );
    await expect(
      run({
        input: q.input,
        output: q.output,
        classifier: gone.classifier,
        successor: 'Use the other one.',
        pagePosts: 8,
      }),
    ).rejects.toBeInstanceOf(ClassifierGoneError);
    expect([...q.input.rows()].map((r) => [r.status, JSON.parse(r.payload).length])).toEqual(
      rows.map(() => ['pending', 5]),
    );
    expect(labels(q.output)).toEqual([]);
    q.close();
  });

  it('ends promptly when the run is aborted mid-request, committing nothing', async () => {
    const rows = [Array.from({ length: 5 }, () => post())];
    const q = queues(rows);
    const controller = new AbortController();
    // every request hangs until the run is aborted
    const hanging: Classifier = {
      name: 'hanging',
      batchSize: 4,
      score: (_texts, signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    };
    const started = performance.now();
    const running = run({
      input: q.input,
      output: q.output,
      classifier: hanging,
      signal: controller.signal,
      pagePosts: 4,
    });
    setTimeout(() => controller.abort(new Error('cancelled')), 50);
    await expect(running).rejects.toThrow('cancelled');
    expect(performance.now() - started).toBeLessThan(5000);
    expect([...q.input.rows()]).toHaveLength(1); // nothing was committed: the row is still pending
    q.close();
  });
});

describe('pacing', () => {
  it('never starts more than a burst of 2 at once, and holds the rate', async () => {
    const limiter = new RateLimiter(50); // one every 20 ms
    const starts: number[] = [];
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        await limiter.acquire();
        starts.push(performance.now() - begin);
      }),
    );
    // any three consecutive starts span at least one interval (a burst of 2 is allowed, not 3)
    for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 2]!).toBeGreaterThanOrEqual(18);
    // 30 starts at 50/s take about 29 intervals (580 ms), not much more
    expect(starts.at(-1)!).toBeGreaterThanOrEqual(540);
    expect(starts.at(-1)!).toBeLessThan(900);
  });

  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['soon', undefined],
    ['', undefined],
  ])('reads the rate-limit window %j as %p ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
