import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  hashScore,
  listenOnLoopback,
  replyJson as reply,
  tokenBucket,
} from '../../../post-labelling/tests/helpers/loopback';

/** Options of the fake Perspective server. */
export interface FakePerspectiveOptions {
  /** Requests per second allowed (token bucket, burst of a tenth of a second); excess gets 429. */
  quotaPerSec?: number;
  /** Added before each answer (ms). */
  latencyMs?: number;
}

/** What the API answers once it has been shut down (Google's answer for a disabled service). */
export const SHUT_DOWN_ANSWER = {
  status: 403,
  body: {
    error: {
      code: 403,
      message: 'Perspective Comment Analyzer API has been shut down and is no longer available.',
      status: 'PERMISSION_DENIED',
      details: [{ reason: 'SERVICE_DISABLED' }],
    },
  },
};

/**
 * A server on 127.0.0.1 speaking Perspective's `POST /v1alpha1/comments:analyze?key=...`.
 * Scores are deterministic (a hash of text and attribute). Faults are chosen by markers in the
 * text: `[400]` always 400; `[500-once]`, `[429-once]` (with Retry-After: 0) and `[drop-once]`
 * (connection destroyed) fail the first attempt only; `[slow]` never answers.
 */
export interface FakePerspective {
  readonly baseUrl: string;
  readonly requests: { key: string | null; text: string; attributes: string[]; languages: string[] }[];
  /** Requests refused for quota. */
  rejectedForQuota: number;
  /** Largest number of requests in flight at once. */
  maxInFlight: number;
  /** From now on answer every request with this (e.g. {@link SHUT_DOWN_ANSWER}); `undefined` to serve again. */
  answerAll: { status: number; body: unknown } | undefined;
  /** Client connections open now (a client's kept-alive ones included). */
  readonly connections: number;
  /** Resolves once no client connection is open (at once when none is). */
  allClosed(): Promise<void>;
  stop(): Promise<void>;
}

/** The score the fake server gives `attribute` for `text`. */
export function expectedScore(text: string, attribute: string): number {
  return hashScore(text, attribute);
}

export async function startFakePerspective(options: FakePerspectiveOptions = {}): Promise<FakePerspective> {
  const seenOnce = new Set<string>();
  const hanging = new Set<ServerResponse>();
  const quota = tokenBucket(options.quotaPerSec);
  let inFlight = 0;
  let connections = 0;
  const whenAllClosed: (() => void)[] = [];
  const state: FakePerspective = {
    baseUrl: '',
    requests: [],
    rejectedForQuota: 0,
    maxInFlight: 0,
    answerAll: undefined,
    get connections() {
      return connections;
    },
    allClosed: () =>
      connections === 0 ? Promise.resolve() : new Promise<void>((resolve) => whenAllClosed.push(resolve)),
    stop: async () => {},
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const allowed = quota.take();
    inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on('close', () => (inFlight -= 1));
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'POST' || url.pathname !== '/v1alpha1/comments:analyze')
        return reply(res, 404, { error: { message: 'not found' } });
      const body = JSON.parse(raw) as {
        comment: { text: string };
        languages: string[];
        requestedAttributes: Record<string, unknown>;
      };
      const text = body.comment.text;
      state.requests.push({
        key: url.searchParams.get('key'),
        text,
        attributes: Object.keys(body.requestedAttributes),
        languages: body.languages,
      });
      if (state.answerAll) return reply(res, state.answerAll.status, state.answerAll.body);
      if (!allowed) {
        state.rejectedForQuota += 1;
        return reply(
          res,
          429,
          { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } },
          { 'retry-after': '1' },
        );
      }
      const once = (marker: string) =>
        text.includes(marker) && !seenOnce.has(`${marker}:${text}`) && seenOnce.add(`${marker}:${text}`);
      if (text.includes('[slow]')) return void hanging.add(res);
      if (once('[drop-once]')) return void req.socket.destroy();
      const answer = () => {
        if (text.includes('[400]')) {
          return reply(res, 400, {
            error: {
              code: 400,
              message: 'Attribute TOXICITY does not support request languages: xx',
              status: 'INVALID_ARGUMENT',
            },
          });
        }
        if (once('[500-once]')) return reply(res, 500, { error: { code: 500, message: 'backend error' } });
        if (once('[429-once]'))
          return reply(res, 429, { error: { code: 429, message: 'slow down' } }, { 'retry-after': '0' });
        const attributeScores = Object.fromEntries(
          Object.keys(body.requestedAttributes).map((a) => [
            a,
            { summaryScore: { value: expectedScore(text, a), type: 'PROBABILITY' } },
          ]),
        );
        reply(res, 200, { attributeScores, languages: ['en'] });
      };
      if (options.latencyMs) setTimeout(answer, options.latencyMs);
      else answer();
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    socket.once('close', () => {
      connections -= 1;
      if (connections > 0) return;
      for (const resolve of whenAllClosed.splice(0)) resolve();
    });
  });
  const { port, stop } = await listenOnLoopback(server, hanging);
  return Object.assign(state, { baseUrl: `http://127.0.0.1:${port}`, stop });
}
