import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { SpanKind, context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import plugin, {
  ATTRIBUTES,
  PERSPECTIVE_CONFIG,
  PERSPECTIVE_LABEL_MODEL,
  perspectiveConfigFromEnv,
  queueFiles,
  type PerspectiveConfig,
} from '../src';
import {
  SHUT_DOWN_ANSWER,
  expectedScore,
  startFakePerspective,
  type FakePerspective,
} from './helpers/perspective-server';
import { perspectiveKit } from './helpers/kit';
import { enqueue, post, readQueue, readRejected, tempQueueDir } from './helpers/queues';

let server: FakePerspective;
beforeEach(async () => {
  server = await startFakePerspective();
});
afterEach(async () => {
  await server.stop();
});

const setup = (overrides: Partial<PerspectiveConfig> = {}) => perspectiveKit(server.baseUrl, overrides);

const allLabels = (file: string) => readQueue(file).flatMap((row) => row.items);

describe('ml_inference_perspective_api', () => {
  it('labels every pending post into the output queue in the original format and empties the input', async () => {
    const { config, files, run, store } = setup();
    const rows = [
      Array.from({ length: 100 }, (_, i) => post(`a perfectly ordinary post number ${i}`)),
      [post('another fine post')],
    ];
    enqueue(config, rows);
    const record = await run();
    expect(record).toMatchObject({
      status: 'SUCCEEDED',
      status_code: 200,
      body: 'Classification of latest posts completed successfully',
    });
    const metadata = JSON.parse(record.metadata);
    expect(metadata).toMatchObject({
      inference_type: 'perspective_api',
      total_classified_posts: 101,
      event: { run_type: 'prod' },
      inference_metadata: { total_batches: 3, total_posts_successfully_labeled: 101, total_posts_failed_to_label: 0 },
      metrics: { posts_labelled: 101, posts_failed: 0 },
    });
    expect(metadata.inference_timestamp).toMatch(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/);

    expect(readQueue(files.input)).toEqual([]);
    const output = readQueue(files.output);
    // a page ends on a whole input row once it holds 100 posts: the 100-post row is a page
    // (rows of 90 and 10 labels), the last post another
    expect(output.map((r) => r.metadata)).toEqual([
      { batch_size: 90, actual_batch_size: 90 },
      { batch_size: 90, actual_batch_size: 10 },
      { batch_size: 90, actual_batch_size: 1 },
    ]);
    const first = output[0]!.items[0]!;
    const source = rows[0]![0]!;
    expect(first).toMatchObject({
      uri: source.uri,
      text: source.text,
      preprocessing_timestamp: '2026-11-20-10:00:00',
      was_successfully_labeled: true,
    });
    expect(first.label_timestamp).toMatch(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/);
    for (const [attribute, field] of ATTRIBUTES)
      expect(first[field]).toBeCloseTo(expectedScore(String(source.text), attribute), 10);
    expect(first.prob_constructive).toBe(first.prob_reasoning);
    expect(first.label_model).toBe(PERSPECTIVE_LABEL_MODEL);
    // uri, text, preprocessing ts, labeled, label ts + 21 scores + constructive + label_model
    expect(Object.keys(first)).toHaveLength(5 + 21 + 1 + 1);

    expect(server.requests[0]).toMatchObject({ key: 'test-perspective-key', languages: ['en'] });
    expect(server.requests[0]!.attributes).toEqual(ATTRIBUTES.map(([a]) => a));
    expect(store.all()).toHaveLength(1);
  });

  it('de-duplicates by URI, and keeps posts it cannot send in rejected_posts with the reason, out of the label queue', async () => {
    const { config, files, run } = setup();
    const dup = post('this one is queued twice');
    enqueue(config, [
      [
        dup,
        post('tiny'),
        post('  null  '),
        post('NaN'),
        post('fine text but no timestamp', { preprocessing_timestamp: null }),
      ],
      [{ ...dup }, post('a good post here')],
    ]);
    const record = await run();
    expect(JSON.parse(record.metadata).inference_metadata).toMatchObject({
      total_posts_successfully_labeled: 2,
      total_posts_rejected: 4,
      total_duplicate_posts: 1,
    });
    expect(server.requests.map((r) => r.text).sort()).toEqual(['a good post here', 'this one is queued twice']);
    const labels = allLabels(files.output);
    // the queue table holds labels only, as the original's did
    expect(labels.map((l) => [l.text, l.was_successfully_labeled]).sort()).toEqual([
      ['a good post here', true],
      ['this one is queued twice', true],
    ]);
    expect(readRejected(files.output).map((r) => [JSON.parse(r.post).text, r.reason, r.uri !== null])).toEqual([
      ['tiny', 'invalid_text', true],
      ['  null  ', 'invalid_text', true],
      ['NaN', 'invalid_text', true],
      ['fine text but no timestamp', 'missing_preprocessing_timestamp', true],
    ]);
    expect(readQueue(files.input)).toEqual([]);
  });

  it('deletes rows whose posts were all seen before, even when they make up a page alone', async () => {
    const { config, files, run } = setup({ qps: 40 }); // pages of 90 posts
    const first = Array.from({ length: 90 }, (_, i) => post(`a distinct post number ${i}`));
    enqueue(config, [first, [{ ...first[0]! }], [{ ...first[1]! }]]);
    const record = await run();
    expect(JSON.parse(record.metadata).inference_metadata).toMatchObject({
      total_posts_successfully_labeled: 90,
      total_duplicate_posts: 2,
    });
    expect(allLabels(files.output)).toHaveLength(90);
    expect(readQueue(files.input)).toEqual([]);
  });

  it('backfill takes only the posts queued within the window', async () => {
    const { config, files, run } = setup();
    enqueue(config, [[post('an old post from last week')]], new Date(Date.now() - 7 * 86400_000));
    enqueue(config, [[post('a recent post from an hour ago')]], new Date(Date.now() - 3600_000));
    const record = await run({ run_type: 'backfill', backfill_period: 'days', backfill_duration: 2 });
    expect(JSON.parse(record.metadata).total_classified_posts).toBe(1);
    expect(allLabels(files.output).map((l) => l.text)).toEqual(['a recent post from an hour ago']);
    expect(readQueue(files.input).map((r) => r.items[0]!.text)).toEqual(['an old post from last week']);
    const hours = await run({ run_type: 'backfill', backfill_period: 'hours', backfill_duration: 1 });
    expect(JSON.parse(hours.metadata).total_classified_posts).toBe(0);
  });

  it('accepts the integrations router nested payload form', async () => {
    const { config, run } = setup();
    enqueue(config, [[post('a post for the router')]]);
    const record = await run({
      run_type: 'prod',
      payload: { backfill_period: null, backfill_duration: null },
      metadata: {},
    });
    expect(record.status_code).toBe(200);
  });

  it('requests only the attributes asked for', async () => {
    const { config, files, run } = setup();
    enqueue(config, [[post('score only two attributes')]]);
    await run({ run_type: 'prod', attributes: ['TOXICITY', 'REASONING_EXPERIMENTAL'] });
    expect(server.requests[0]!.attributes).toEqual(['TOXICITY', 'REASONING_EXPERIMENTAL']);
    const [label] = allLabels(files.output);
    expect(label!.prob_toxic).toBeCloseTo(expectedScore('score only two attributes', 'TOXICITY'));
    expect(label!.prob_constructive).toBe(label!.prob_reasoning);
    expect(label!.prob_insult).toBeNull();
  });

  it('takes at most max_records_per_run posts, whole rows only, and leaves the rest pending', async () => {
    const { config, files, run } = setup();
    enqueue(config, [
      [post('row one post a'), post('row one post b')],
      [post('row two post a')],
      [post('row three post')],
    ]);
    const record = await run({ run_type: 'prod', max_records_per_run: 3 });
    expect(JSON.parse(record.metadata).total_classified_posts).toBe(3);
    expect(readQueue(files.input).map((r) => r.items[0]!.text)).toEqual(['row three post']);
  });

  it.each([
    ['a 500 once', '[500-once] flaky backend post'],
    ['a 429 once with Retry-After', '[429-once] rate limited post'],
    ['a dropped connection', '[drop-once] dropped connection post'],
  ])('retries %s and labels the post', async (_label, text) => {
    const { config, files, run } = setup();
    enqueue(config, [[post(text)]]);
    const record = await run();
    expect(JSON.parse(record.metadata).inference_metadata).toMatchObject({
      total_posts_successfully_labeled: 1,
      total_retries: 1,
    });
    expect(server.requests.filter((r) => r.text === text)).toHaveLength(2);
    expect(allLabels(files.output)[0]!.was_successfully_labeled).toBe(true);
  });

  it('does not retry a 400: the post goes back to the input queue with the API reason', async () => {
    const { config, files, run } = setup();
    const bad = post('[400] unsupported language post');
    enqueue(config, [[bad, post('a good post beside it')]]);
    const record = await run();
    expect(record.status_code).toBe(200);
    expect(JSON.parse(record.metadata).inference_metadata.total_posts_failed_to_label).toBe(1);
    expect(server.requests.filter((r) => r.text === bad.text)).toHaveLength(1);
    const requeued = readQueue(files.input);
    expect(requeued).toHaveLength(1);
    expect(requeued[0]!.items).toEqual([bad]);
    expect(requeued[0]!.metadata).toEqual({
      reason: 'failed_label_perspective_api',
      model_reason: 'perspective_api_400: Attribute TOXICITY does not support request languages: xx',
      label_timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/),
    });
    expect(allLabels(files.output).map((l) => l.text)).toEqual(['a good post beside it']);
  });

  it('gives up on a request that never answers after its attempts, keeping the post', async () => {
    const { config, files, run } = setup({ requestTimeoutMs: 100, maxAttempts: 2 });
    enqueue(config, [[post('[slow] this server never answers')]]);
    const record = await run();
    expect(record.status_code).toBe(200);
    expect(readQueue(files.input)[0]!.metadata.model_reason).toBe('request_timeout');
  });

  it('needs no API key when nothing is pending, and creates a missing input queue', async () => {
    const { files, run } = setup({ apiKey: undefined });
    expect(existsSync(files.input)).toBe(false);
    const record = await run();
    expect(record).toMatchObject({ status: 'SUCCEEDED', status_code: 200 });
    expect(JSON.parse(record.metadata).total_classified_posts).toBe(0);
    expect(existsSync(files.input)).toBe(true);
  });

  it('fails clearly when posts are pending and no key is set, removing nothing', async () => {
    const { config, files, run } = setup({ apiKey: undefined });
    enqueue(config, [[post('waiting for a key')]]);
    const record = await run();
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toBe(
      'Error in classification of latest posts: 1 post(s) are pending but no Perspective API key is set: set PERSPECTIVE_API_KEY (or GOOGLE_API_KEY). No post was removed from the queue.',
    );
    expect(readQueue(files.input)).toHaveLength(1);
    expect(server.requests).toEqual([]);
  });

  it('honours the timeout: the run is TIMED_OUT and every post is labelled once or still pending', async () => {
    const { config, files, run } = setup({ qps: 50 }); // pages of 100 posts: one commit about every 2 s
    const posts = Array.from({ length: 250 }, (_, i) => post(`a post to label slowly ${i}`));
    enqueue(
      config,
      posts.map((p) => [p]),
    );
    const record = await run({ run_type: 'prod' }, { timeoutMs: 3000 });
    expect(record.status).toBe('TIMED_OUT');
    const labelled = allLabels(files.output).map((l) => l.uri);
    const pending = readQueue(files.input).flatMap((r) => r.items.map((i) => i.uri));
    expect(labelled.length).toBeGreaterThan(0);
    expect(pending.length).toBeGreaterThan(0);
    expect([...labelled, ...pending].sort()).toEqual(posts.map((p) => p.uri).sort());
  });

  it('rejects bad payloads with a 400 naming the field', async () => {
    const { run } = setup();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ run_type: 'daily' }, /run_type must be "prod" or "backfill"/],
      [
        { run_type: 'backfill', backfill_period: 'weeks', backfill_duration: 1 },
        /backfill_period must be "days" or "hours"/,
      ],
      [{ run_type: 'backfill', backfill_period: 'days', backfill_duration: 0 }, /backfill_duration must be positive/],
      [
        { run_type: 'backfill', backfill_period: 'days', backfill_duration: 1.5 },
        /backfill_duration must be a whole number/,
      ],
      [{ run_type: 'backfill', backfill_period: 'days' }, /backfill_period and backfill_duration go together/],
      [
        { run_type: 'prod', backfill_period: 'days', backfill_duration: 2 },
        /a backfill window needs run_type "backfill"/,
      ],
      [{ run_type: 'prod', max_records_per_run: -1 }, /max_records_per_run must be a positive whole number/],
      [{ run_type: 'prod', attributes: ['TOXICITY', 'NICENESS'] }, /attributes must be among TOXICITY/],
      [{ run_type: 'prod', backfil_period: 'days' }, /backfil_period/],
    ];
    for (const [payload, message] of cases) {
      await expect(run(payload)).rejects.toMatchObject({
        name: 'InvalidRequestError',
        message: expect.stringMatching(message),
      });
    }
  });

  it('reports progress and metrics while it works', async () => {
    const { config, run, tracker } = setup();
    enqueue(config, [Array.from({ length: 500 }, (_, i) => post(`progress post number ${i}`))]);
    const seen: [number, number][] = [];
    await (async () => {
      const record = await run({ run_type: 'prod' }, { onProgress: (d: number, t: number) => seen.push([d, t]) });
      expect(record.status).toBe('SUCCEEDED');
    })();
    expect(seen[0]).toEqual([0, 500]);
    expect(seen.at(-1)).toEqual([500, 500]);
    const logs = tracker.calls.filter((c) => c.type === 'log');
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(logs.at(-1)).toMatchObject({ metrics: { posts_labelled: 500, posts_failed: 0, retries: 0 } });
  });
});

describe('configuration', () => {
  it('reads the environment with defaults, and names the variable when a value is wrong', async () => {
    expect(perspectiveConfigFromEnv({}, '/work')).toMatchObject({
      apiKey: undefined,
      baseUrl: 'https://commentanalyzer.googleapis.com',
      qps: 1,
      queueDir: join('/work/.pipeline/data/queue'),
    });
    expect(perspectiveConfigFromEnv({ GOOGLE_API_KEY: 'g', BSKY_DATA_DIR: '/data' }, '/work')).toMatchObject({
      apiKey: 'g',
      queueDir: '/data/queue',
    });
    expect(perspectiveConfigFromEnv({ GOOGLE_API_KEY: 'g', PERSPECTIVE_API_KEY: 'p' }).apiKey).toBe('p');
    expect(() => perspectiveConfigFromEnv({ PERSPECTIVE_QPS: 'fast' })).toThrow('PERSPECTIVE_QPS must be a number');
    expect(() => perspectiveConfigFromEnv({ PERSPECTIVE_API_URL: 'ftp://x' })).toThrow(
      'PERSPECTIVE_API_URL must be an http(s) URL',
    );
  });
});

describe('configuration from the invoker', () => {
  it('reads its variables from the environment the invoker was given, not from process.env', async () => {
    const dataDir = join(tempQueueDir(), 'data');
    const { invoker } = createTestInvoker({
      plugins: [plugin],
      config: { env: { BSKY_DATA_DIR: dataDir, PERSPECTIVE_API_KEY: 'k', PERSPECTIVE_QPS: '5' } },
    });
    const record = await invoker.invokePipelineHandler('ml_inference_perspective_api', { run_type: 'prod' });
    expect(record.status).toBe('SUCCEEDED');
    expect(existsSync(join(dataDir, 'queue', 'input_ml_inference_perspective_api.db'))).toBe(true);

    const refused = createTestInvoker({ plugins: [plugin], config: { env: { PERSPECTIVE_QPS: 'fast' } } });
    const failed = await refused.invoker.invokePipelineHandler('ml_inference_perspective_api', { run_type: 'prod' });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.message).toContain('PERSPECTIVE_QPS');
  });
});

describe('the end of the Perspective API', () => {
  it.each([
    ['403 naming a disabled service', SHUT_DOWN_ANSWER],
    ['410 Gone', { status: 410, body: { error: { code: 410, message: 'Gone' } } }],
  ])(
    'stops at the first %s, names the successor, retries nothing and leaves the input queue untouched',
    async (_, answer) => {
      const { config, files, run } = setup({ qps: 1000 });
      const rows = Array.from({ length: 5 }, (_, r) =>
        Array.from({ length: 60 }, (_, i) => post(`post ${r}-${i} long enough`)),
      );
      const ids = enqueue(config, rows);
      server.answerAll = answer;
      const record = await run();
      expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
      expect(record.body).toContain('no longer available');
      expect(record.body).toContain('@pipeline-invocation/handler-openai-moderation');
      // every post still pending, in its own row, with nothing requeued or written
      const input = readQueue(files.input);
      expect(input.map((r) => [r.id, r.status, r.items.length])).toEqual(ids.map((id) => [id, 'pending', 60]));
      expect(allLabels(files.output)).toEqual([]);
      // no post was tried twice, and the run did not go on past the page in flight
      const texts = server.requests.map((r) => r.text);
      expect(new Set(texts).size).toBe(texts.length);
      expect(texts.length).toBeLessThan(300);
      expect(JSON.parse(record.metadata).inference_metadata.total_retries).toBe(0);
    },
  );

  it('a 403 for a bad key is not the end of the API: the post goes back to the queue as a failure', async () => {
    const { config, files, run } = setup();
    enqueue(config, [[post('a post long enough to send')]]);
    server.answerAll = {
      status: 403,
      body: { error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' } },
    };
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(readQueue(files.input)[0]!.metadata).toMatchObject({
      reason: 'failed_label_perspective_api',
      model_reason: 'perspective_api_403: The caller does not have permission',
    });
  });
});

describe('OpenTelemetry', () => {
  it('makes a CLIENT span per API request under the handler span, and counts the posts by outcome', async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
    const metricsOut = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metricsOut, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    try {
      const { config, run } = setup();
      enqueue(config, [[post('first post to label'), post('second post to label'), post('tiny')]]);
      const record = await run();
      expect(record.status).toBe('SUCCEEDED');
      const finished = spans.getFinishedSpans();
      const handler = finished.find((s) => s.name === 'pipeline.handler ml_inference_perspective_api')!;
      const requests = finished.filter((s) => s.name === 'perspective_api request');
      expect(requests).toHaveLength(2);
      expect(
        requests.every(
          (s) => s.kind === SpanKind.CLIENT && s.parentSpanContext?.spanId === handler.spanContext().spanId,
        ),
      ).toBe(true);
      expect(record.trace_id).toBe(handler.spanContext().traceId);
      await reader.forceFlush();
      const points = metricsOut
        .getMetrics()
        .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
        .filter((m) => m.descriptor.name === 'pipeline.labelling.posts')
        .flatMap((m) => m.dataPoints.map((p) => [p.attributes['labelling.outcome'], p.value]));
      expect(points.sort()).toEqual([
        ['labelled', 2],
        ['rejected', 1],
      ]);
    } finally {
      trace.disable();
      metrics.disable();
      context.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    }
  });
});
