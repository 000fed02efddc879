import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import plugin, { DEFAULT_MODERATION_MODEL, moderationConfigFromEnv, probField, queueFiles } from '../src';
import {
  ANSWERED_MODEL,
  CATEGORIES,
  expectedScore,
  startModerationServer,
  type ModerationServer,
} from './helpers/moderation-server';
import { enqueue, post, readQueue, readRejected, tempDataDir } from './helpers/queues';

let server: ModerationServer;
afterEach(async () => {
  await server?.stop();
});

const SERVICE = 'ml_inference_openai_moderation';

/** The plugin in a test invoker configured through its environment, as a host would configure it. */
function setup(env: Record<string, string> = {}) {
  const dataDir = tempDataDir();
  const fullEnv = {
    OPENAI_API_KEY: 'sk-test-moderation-key',
    OPENAI_BASE_URL: server.baseUrl,
    OPENAI_MODERATION_RPS: '1000',
    OPENAI_MODERATION_RETRY_BASE_MS: '5',
    OPENAI_MODERATION_TIMEOUT_MS: '2000',
    BSKY_DATA_DIR: dataDir,
    ...env,
  };
  const config = moderationConfigFromEnv(fullEnv);
  const kit = createTestInvoker({ plugins: [plugin], config: { env: fullEnv } });
  const run = (payload: Record<string, unknown> = { run_type: 'prod' }) =>
    kit.invoker.invokePipelineHandler(SERVICE, payload);
  return { ...kit, dataDir, files: queueFiles(config), run };
}

const labelsOf = (file: string) => readQueue(file).flatMap((row) => row.items);

describe('ml_inference_openai_moderation', () => {
  it('labels every valid post once, many posts per request, with the moderation fields and the model it answered with', async () => {
    server = await startModerationServer();
    const { files, run } = setup({ OPENAI_MODERATION_BATCH_SIZE: '8' });
    const texts = Array.from({ length: 50 }, (_, i) => `a post worth moderating, number ${i}`);
    enqueue(files.input, [
      texts.slice(0, 30).map((t) => post(t)),
      [
        ...texts.slice(30).map((t) => post(t)),
        post('tiny'),
        post('no timestamp here', { preprocessing_timestamp: '' }),
      ],
    ]);
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.metadata)).toMatchObject({
      inference_type: 'openai_moderation',
      total_classified_posts: 50,
      inference_metadata: { total_posts_successfully_labeled: 50, total_posts_rejected: 2, total_requests: 7 },
    });
    // batches of at most 8, every text sent exactly once, with the key and the default model
    expect(server.requests.map((r) => r.inputs.length).sort((a, b) => b - a)).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(server.requests.flatMap((r) => r.inputs).sort()).toEqual([...texts].sort());
    expect(server.requests.every((r) => r.authorization === 'Bearer sk-test-moderation-key')).toBe(true);
    expect(server.requests[0]!.model).toBe(DEFAULT_MODERATION_MODEL);

    const labels = labelsOf(files.output);
    expect(labels.map((l) => l.text).sort()).toEqual([...texts].sort());
    const first = labels.find((l) => l.text === texts[0])!;
    const expected: Record<string, unknown> = {
      uri: expect.any(String),
      text: texts[0],
      preprocessing_timestamp: '2026-11-20-10:00:00',
      was_successfully_labeled: true,
      label_timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/),
      flagged: CATEGORIES.some((c) => expectedScore(texts[0]!, c) > 0.9),
      label_model: ANSWERED_MODEL,
    };
    for (const c of CATEGORIES) expected[probField(c)] = expectedScore(texts[0]!, c);
    expect(first).toEqual(expected);
    expect(Object.keys(first)).toEqual(
      expect.arrayContaining(['prob_harassment_threatening', 'prob_self_harm_intent']),
    );
    // rejected posts are kept apart, with the reason; the input queue is empty
    expect(readRejected(files.output).map((r) => [JSON.parse(r.post).text, r.reason])).toEqual([
      ['tiny', 'invalid_text'],
      ['no timestamp here', 'missing_preprocessing_timestamp'],
    ]);
    expect(readQueue(files.input)).toEqual([]);
  });

  it('reads the queue the preprocessing step fills for Perspective, and writes its own output queue', async () => {
    server = await startModerationServer();
    const { dataDir, files, run } = setup({ OPENAI_MODERATION_INPUT_QUEUE: 'input_ml_inference_perspective_api.db' });
    const perspectiveInput = join(dataDir, 'queue', 'input_ml_inference_perspective_api.db');
    expect(files.input).toBe(perspectiveInput);
    enqueue(perspectiveInput, [[post('queued for perspective, labelled by moderation')]]);
    expect((await run()).status).toBe('SUCCEEDED');
    expect(files.output).toBe(join(dataDir, 'queue', 'output_ml_inference_openai_moderation.db'));
    expect(labelsOf(files.output).map((l) => l.text)).toEqual(['queued for perspective, labelled by moderation']);
    expect(readQueue(perspectiveInput)).toEqual([]);
  });

  it('honours 429 with Retry-After and loses no post', async () => {
    server = await startModerationServer({ quotaPerSec: 20 });
    const { files, run } = setup({ OPENAI_MODERATION_BATCH_SIZE: '4', OPENAI_MODERATION_RPS: '1000' });
    const texts = Array.from({ length: 24 }, (_, i) => `rate limited post number ${i}`);
    enqueue(files.input, [texts.map((t) => post(t))]);
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(server.rejectedForQuota).toBeGreaterThan(0); // our rate (1000/s) was far above its quota
    // a refused request was tried again only after the Retry-After second
    const refusedAt = server.requests[0]!.at;
    const retried = server.requests.filter((r) => r.at - refusedAt >= 950);
    expect(retried.length).toBeGreaterThan(0);
    expect(
      labelsOf(files.output)
        .map((l) => l.text)
        .sort(),
    ).toEqual([...texts].sort());
    expect(readQueue(files.input)).toEqual([]);
  }, 30_000);

  it('paces itself by the x-ratelimit headers: no request while the window is spent, no 429', async () => {
    server = await startModerationServer({ windowRequests: 3, windowMs: 400 });
    // 20 requests/s would put 7 requests in 300 ms, more than the window's 3 per 400 ms
    const { files, run } = setup({ OPENAI_MODERATION_BATCH_SIZE: '2', OPENAI_MODERATION_RPS: '20' });
    enqueue(files.input, [Array.from({ length: 14 }, (_, i) => post(`paced by headers ${i}`))]);
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(server.requests).toHaveLength(7);
    expect(server.rejectedForQuota).toBe(0);
    const span = server.requests.at(-1)!.at - server.requests[0]!.at;
    // 7 requests in windows of 3 span three windows: more than one whole window (at 20/s they would take 300 ms)
    expect(span).toBeGreaterThan(400);
  });

  it('loses no post when the server fails mid-run: failed posts go back to the input queue with the failure metadata', async () => {
    server = await startModerationServer();
    server.failFrom = 3;
    const { files, run } = setup({ OPENAI_MODERATION_BATCH_SIZE: '5', OPENAI_MODERATION_MAX_ATTEMPTS: '2' });
    const texts = Array.from({ length: 30 }, (_, i) => `mid-run failure post ${i}`);
    enqueue(files.input, [texts.map((t) => post(t))]);
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    const labelled = labelsOf(files.output).map((l) => l.text as string);
    const requeued = readQueue(files.input);
    const pending = requeued.flatMap((r) => r.items.map((i) => i.text as string));
    // every post exactly once: labelled, or back in the input queue
    expect([...labelled, ...pending].sort()).toEqual([...texts].sort());
    expect(labelled).toHaveLength(10);
    expect(requeued.map((r) => r.metadata)).toEqual([
      {
        reason: 'failed_label_openai_moderation',
        model_reason: 'openai_moderation_500: 500 The server had an error',
        label_timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/),
      },
    ]);
    expect(JSON.parse(record.metadata).inference_metadata).toMatchObject({
      total_posts_failed_to_label: 20,
      total_retries: 4,
    });
  });

  it('fails clearly when posts are pending and no key is set, removing nothing', async () => {
    server = await startModerationServer();
    const { files, run } = setup({ OPENAI_API_KEY: '' });
    enqueue(files.input, [[post('waiting for a key to be set')]]);
    const record = await run();
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toBe(
      'Error in classification of latest posts: 1 post(s) are pending but no OpenAI API key is set: set OPENAI_API_KEY. No post was removed from the queue.',
    );
    expect(readQueue(files.input)).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
  });

  it("sends OPENAI_ORG_ID and OPENAI_PROJECT_ID as OpenAI-Organization and OpenAI-Project, as OpenAI's client did", async () => {
    server = await startModerationServer();
    const { files, run } = setup({ OPENAI_ORG_ID: 'org-research', OPENAI_PROJECT_ID: 'proj_labels' });
    enqueue(files.input, [[post('a post sent on behalf of an organization')]]);
    expect((await run()).status).toBe('SUCCEEDED');
    expect(server.requests.map((r) => [r.organization, r.project])).toEqual([['org-research', 'proj_labels']]);

    server.requests.length = 0;
    const plain = setup();
    enqueue(plain.files.input, [[post('a post sent without an organization')]]);
    expect((await plain.run()).status).toBe('SUCCEEDED');
    expect(server.requests.map((r) => [r.organization, r.project])).toEqual([[undefined, undefined]]);
  });

  it("keeps at most OPENAI_MODERATION_MAX_IN_FLIGHT requests open at once (by default a second's worth at the rate)", async () => {
    // 1000 requests/s against answers that take 40 ms: without a bound, a page's 8 requests would all be open
    server = await startModerationServer({ latencyMs: 40 });
    const bounded = setup({ OPENAI_MODERATION_BATCH_SIZE: '2', OPENAI_MODERATION_MAX_IN_FLIGHT: '3' });
    enqueue(bounded.files.input, [Array.from({ length: 40 }, (_, i) => post(`a post sent in pairs ${i}`))]);
    expect((await bounded.run()).status).toBe('SUCCEEDED');
    expect(server.maxInFlight).toBe(3);
    expect(labelsOf(bounded.files.output)).toHaveLength(40);

    // by default a second's worth of requests at the rate (8 to 64): at 10/s against answers that
    // take 1.6 s, 10 open at once, where the fixed default of 8 held the run to 5 requests/s
    await server.stop();
    server = await startModerationServer({ latencyMs: 1600 });
    const byDefault = setup({
      OPENAI_MODERATION_BATCH_SIZE: '1',
      OPENAI_MODERATION_RPS: '10',
      OPENAI_MODERATION_TIMEOUT_MS: '20000',
    });
    enqueue(byDefault.files.input, [Array.from({ length: 14 }, (_, i) => post(`a post sent alone ${i}`))]);
    expect((await byDefault.run()).status).toBe('SUCCEEDED');
    expect(server.maxInFlight).toBe(10);
    expect(labelsOf(byDefault.files.output)).toHaveLength(14);

    expect(moderationConfigFromEnv({}).maxInFlight).toBeUndefined();
    expect(() => moderationConfigFromEnv({ OPENAI_MODERATION_MAX_IN_FLIGHT: '0' })).toThrow(
      'OPENAI_MODERATION_MAX_IN_FLIGHT must be at least 1',
    );
  });

  it('refuses bad configuration naming the variable', async () => {
    server = await startModerationServer();
    const { invoker } = createTestInvoker({
      plugins: [plugin],
      config: { env: { OPENAI_API_KEY: 'k', OPENAI_MODERATION_BATCH_SIZE: '0', BSKY_DATA_DIR: tempDataDir() } },
    });
    const record = await invoker.invokePipelineHandler(SERVICE, { run_type: 'prod' });
    expect(record.status).toBe('FAILED');
    expect(record.error?.message).toContain('OPENAI_MODERATION_BATCH_SIZE must be at least 1');
  });

  it('writes an output queue Python sqlite3 reads, with the prob_ fields its readers compute on', async () => {
    server = await startModerationServer();
    const { files, run } = setup();
    enqueue(files.input, [[post('read back by python, first'), post('read back by python, second')]]);
    expect((await run()).status).toBe('SUCCEEDED');
    const read = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
labels = [l for (p,) in conn.execute("SELECT payload FROM queue ORDER BY id") for l in json.loads(p)]
rejected = conn.execute("SELECT COUNT(*) FROM rejected_posts").fetchone()[0]
print(json.dumps({"n": len(labels), "mean_harassment": sum(l["prob_harassment"] for l in labels) / len(labels), "model": labels[0]["label_model"], "rejected": rejected}))
`;
    const result = JSON.parse(execFileSync('python3', ['-c', read, files.output], { encoding: 'utf8' }));
    const mean =
      (expectedScore('read back by python, first', 'harassment') +
        expectedScore('read back by python, second', 'harassment')) /
      2;
    expect(result).toEqual({ n: 2, mean_harassment: expect.closeTo(mean, 10), model: ANSWERED_MODEL, rejected: 0 });
  });
});
