import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JsonPost, failedRequest } from '../src';

// The classifiers' one HTTP client, against a real server on 127.0.0.1.
let server: Server;
let url: URL;
let onRequest: (req: IncomingMessage, res: ServerResponse, body: string) => void;
const seen: { headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      onRequest(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/score?key=k`);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
});

describe('JsonPost', () => {
  it('posts the body with its headers and length over one kept-alive connection, and answers status, headers and text', async () => {
    onRequest = (_req, res, body) => {
      res.setHeader('x-echo', 'yes');
      res.end(`{"got":${body.length}}`);
    };
    const post = new JsonPost(url, {
      timeoutMs: 60_000,
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    });
    try {
      const signal = new AbortController().signal;
      const first = await post.send('{"text":"é"}', signal);
      const second = await post.send('{}', signal);
      expect(first).toEqual({ status: 200, headers: expect.objectContaining({ 'x-echo': 'yes' }), body: '{"got":12}' });
      expect(second.body).toBe('{"got":2}');
      expect(seen.map((s) => [s.headers['content-length'], s.headers.authorization, s.headers.connection])).toEqual([
        ['13', 'Bearer t', 'keep-alive'], // the length in bytes, not characters
        ['2', 'Bearer t', 'keep-alive'],
      ]);
      // no listener of its own is left on the run's signal
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    } finally {
      post.close();
    }
  });

  it('rejects with the run abort reason while a request is open, and the abort is thrown on by failedRequest', async () => {
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => (received = resolve));
    onRequest = () => received(); // never answers
    const post = new JsonPost(url, { timeoutMs: 60_000, headers: {} });
    try {
      const run = new AbortController();
      const sent = post.send('{}', run.signal);
      await arrived;
      const reason = new Error('the run was cancelled');
      run.abort(reason);
      const error = await sent.catch((e: unknown) => e);
      expect(error).toBe(reason);
      expect(() => failedRequest(error, run.signal)).toThrow('the run was cancelled');
    } finally {
      post.close();
    }
  });

  it('ends a request past its time limit (fake timers): a retryable request_timeout answer', async () => {
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => (received = resolve));
    onRequest = () => received(); // never answers
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const post = new JsonPost(url, { timeoutMs: 5_000, headers: {} });
    try {
      const signal = new AbortController().signal;
      const sent = post.send('{}', signal).catch((e: unknown) => e);
      await arrived;
      jest.advanceTimersByTime(5_000);
      expect(failedRequest(await sent, signal)).toEqual({ ok: false, reason: 'request_timeout', retryable: true });
    } finally {
      jest.useRealTimers();
      post.close();
    }
  });

  it('turns a connection that cannot be made into a retryable network_error answer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const post = new JsonPost(new URL(`http://127.0.0.1:${port}/`), { timeoutMs: 60_000, headers: {} });
    try {
      const signal = new AbortController().signal;
      const error = await post.send('{}', signal).catch((e: unknown) => e);
      expect(failedRequest(error, signal)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^network_error: connect ECONNREFUSED/),
        retryable: true,
      });
    } finally {
      post.close();
    }
  });
});
