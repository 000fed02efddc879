import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  hashScore,
  listenOnLoopback,
  replyJson as reply,
  tokenBucket,
} from '../../../post-labelling/tests/helpers/loopback';

/** The 13 categories `omni-moderation-latest` scores, as the API names them. */
export const CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

/** The model string the server answers with (the API answers with a dated snapshot). */
export const ANSWERED_MODEL = 'omni-moderation-2024-09-26';

/** The score the server gives `category` for `text`. */
export function expectedScore(text: string, category: string): number {
  return hashScore(text, category);
}

/** Options of the loopback moderation server. */
export interface ModerationServerOptions {
  /** Requests per second allowed (token bucket, burst of a tenth of a second); excess gets 429 with Retry-After. */
  quotaPerSec?: number;
  /** Requests per window announced in `x-ratelimit-*` headers; when spent, 429 until the window resets. */
  windowRequests?: number;
  /** Length of that window (ms). */
  windowMs?: number;
  /** Added before each answer (ms). */
  latencyMs?: number;
}

/** One request the server saw. */
export interface SeenRequest {
  authorization: string | undefined;
  /** The `OpenAI-Organization` and `OpenAI-Project` headers. */
  organization: string | undefined;
  project: string | undefined;
  model: string;
  inputs: string[];
  at: number;
}

/**
 * A server on 127.0.0.1 speaking OpenAI's `POST /v1/moderations`: `input` a string or an array
 * of strings, one result per input (`flagged`, `categories`, `category_scores`), the `model` it
 * answered with, `x-ratelimit-*` headers, and 429 with `Retry-After` past its quota. Scores are
 * deterministic (a hash of text and category); `flagged` when any score is above 0.9. Faults are
 * chosen by markers in a text: `[500-once]` fails the request's first attempt, `[drop-once]`
 * destroys its first connection; {@link ModerationServer.failFrom} makes every later request 500.
 */
export interface ModerationServer {
  readonly baseUrl: string;
  readonly requests: SeenRequest[];
  rejectedForQuota: number;
  /** Largest number of requests open at once (received and not yet answered). */
  maxInFlight: number;
  /** From the `n`-th request on (1-based), answer 500 (the server "fails mid-run"). */
  failFrom: number | undefined;
  stop(): Promise<void>;
}

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export async function startModerationServer(options: ModerationServerOptions = {}): Promise<ModerationServer> {
  const seenOnce = new Set<string>();
  const quota = tokenBucket(options.quotaPerSec);
  const windowMs = options.windowMs ?? 1000;
  let windowStart = performance.now();
  let windowUsed = 0;
  const state: ModerationServer = {
    baseUrl: '',
    requests: [],
    rejectedForQuota: 0,
    maxInFlight: 0,
    failFrom: undefined,
    stop: async () => {},
  };
  const rateHeaders = (): Record<string, string> => {
    if (!options.windowRequests) return {};
    const now = performance.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      windowUsed = 0;
    }
    const resetMs = Math.max(0, Math.ceil(windowStart + windowMs - now));
    return {
      'x-ratelimit-limit-requests': String(options.windowRequests),
      'x-ratelimit-remaining-requests': String(Math.max(0, options.windowRequests - windowUsed)),
      'x-ratelimit-reset-requests': `${resetMs}ms`,
    };
  };

  let inFlight = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on('close', () => (inFlight -= 1));
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/moderations')
        return reply(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      const body = JSON.parse(raw) as { model: string; input: string | string[] };
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      state.requests.push({
        authorization: req.headers.authorization,
        organization: header(req.headers['openai-organization']),
        project: header(req.headers['openai-project']),
        model: body.model,
        inputs,
        at: performance.now(),
      });
      const seen = state.requests.length;
      const withinWindow = !options.windowRequests || (rateHeaders(), windowUsed < options.windowRequests);
      if (!quota.take() || !withinWindow) {
        state.rejectedForQuota += 1;
        return reply(
          res,
          429,
          { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } },
          { 'retry-after': '1', ...rateHeaders() },
        );
      }
      if (options.windowRequests) windowUsed += 1;
      const once = (marker: string) =>
        inputs.some((t) => t.includes(marker)) &&
        !seenOnce.has(`${marker}:${inputs.join('|')}`) &&
        seenOnce.add(`${marker}:${inputs.join('|')}`);
      if (once('[drop-once]')) return void req.socket.destroy();
      const answer = () => {
        if ((state.failFrom !== undefined && seen >= state.failFrom) || once('[500-once]'))
          return reply(
            res,
            500,
            { error: { message: 'The server had an error', type: 'server_error' } },
            rateHeaders(),
          );
        const results = inputs.map((text) => {
          const category_scores = Object.fromEntries(CATEGORIES.map((c) => [c, expectedScore(text, c)]));
          const categories = Object.fromEntries(CATEGORIES.map((c) => [c, category_scores[c]! > 0.9]));
          return {
            flagged: Object.values(categories).some(Boolean),
            categories,
            category_scores,
            category_applied_input_types: Object.fromEntries(CATEGORIES.map((c) => [c, ['text']])),
          };
        });
        reply(res, 200, { id: `modr-${seen}`, model: ANSWERED_MODEL, results }, rateHeaders());
      };
      if (options.latencyMs) setTimeout(answer, options.latencyMs);
      else answer();
    });
  });
  const { port, stop } = await listenOnLoopback(server);
  return Object.assign(state, { baseUrl: `http://127.0.0.1:${port}/v1`, stop });
}
