import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModerationClassifier } from '../src';

/** A loopback server answering every request with `handle`; closed (connections too) after each test. */
let server: Server | undefined;
async function serve(handle: Parameters<typeof createServer>[1]): Promise<{ baseUrl: string; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    requests += 1;
    handle!(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests: () => requests };
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const classifierAt = (baseUrl: string) =>
  new ModerationClassifier({
    apiKey: 'sk-test',
    baseUrl,
    model: 'omni-moderation-latest',
    batchSize: 4,
    requestTimeoutMs: 60_000,
  });

describe('ModerationClassifier', () => {
  it('words an error answer that is not JSON as OpenAI\'s client did: "<status> <body>", retryable for a 5xx', async () => {
    const { baseUrl } = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('Bad Gateway');
    });
    const classifier = classifierAt(baseUrl);
    try {
      expect(await classifier.score(['a post'], new AbortController().signal)).toEqual({
        ok: false,
        reason: 'openai_moderation_502: 502 Bad Gateway',
        retryable: true,
        retryAfterMs: undefined,
        rateLimit: undefined,
      });
    } finally {
      classifier.close();
    }
  });

  it('ends its open requests at the run abort, heard through one listener on the run signal', async () => {
    const { baseUrl, requests } = await serve(() => {}); // never answers
    const classifier = classifierAt(baseUrl);
    const run = new AbortController();
    try {
      const answers = Array.from({ length: 10 }, (_, i) => classifier.score([`never answered ${i}`], run.signal));
      while (requests() < 10) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(getEventListeners(run.signal, 'abort')).toHaveLength(1);
      run.abort(new Error('run cancelled'));
      const settled = await Promise.allSettled(answers);
      expect(settled.map((s) => s.status === 'rejected' && (s.reason as Error).message)).toEqual(
        Array(10).fill('run cancelled'),
      );
    } finally {
      classifier.close();
    }
  });
});
