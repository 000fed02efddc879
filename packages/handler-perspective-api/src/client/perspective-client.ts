import http from 'node:http';
import https from 'node:https';
import type { Attribute } from '../attributes';
import { RateLimiter } from './rate-limiter';
import { sleep } from './sleep';

/** Settings of {@link PerspectiveClient}. */
export interface PerspectiveClientOptions {
  apiKey: string;
  /** Base URL; `/v1alpha1/comments:analyze` is appended. */
  baseUrl: string;
  /** Steady request rate (requests per second). */
  qps: number;
  /** Time limit of one request (ms). */
  requestTimeoutMs: number;
  /** Attempts per post, the first included. */
  maxAttempts: number;
  /** First retry delay (ms); doubles each attempt, with jitter, capped at 30 s. */
  retryBaseMs: number;
}

/** The outcome of analysing one text. */
export type Analysis =
  { ok: true; scores: Record<Attribute, number> } | { ok: false; reason: string; retryable: boolean };

/** Counters of what the client did. */
export interface ClientStats {
  requests: number;
  retries: number;
  rateLimited: number;
}

const MAX_RETRY_DELAY_MS = 30_000;

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function headerValue(value: string | string[] | undefined): string | null {
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * A client of the Perspective `comments:analyze` endpoint (or any compatible service: the base
 * URL is configurable, since Google ends the API on 31 Dec 2026). Requests are paced at a
 * steady rate, connections are kept alive (an http(s) keep-alive agent), and 429, 5xx and network
 * errors are retried with exponential backoff and jitter, honouring `Retry-After`. A 400 is not
 * retried: the post fails with the API's reason.
 */
export class PerspectiveClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, rateLimited: 0 };
  private readonly limiter: RateLimiter;
  private readonly target: URL;
  private readonly agent: http.Agent;

  constructor(private readonly options: PerspectiveClientOptions) {
    this.limiter = new RateLimiter(options.qps);
    this.target = new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1alpha1/comments:analyze`);
    this.target.searchParams.set('key', options.apiKey);
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    this.agent = this.target.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** The steady request rate (per second). */
  get ratePerSec(): number {
    return this.options.qps;
  }

  /** Analyse `text` for `attributes`. Never throws for API errors; rejects only when `signal` aborts. */
  async analyze(text: string, attributes: readonly Attribute[], signal: AbortSignal): Promise<Analysis> {
    const body = JSON.stringify({
      comment: { text },
      languages: ['en'],
      requestedAttributes: Object.fromEntries(attributes.map((a) => [a, {}])),
    });
    let last: Analysis = { ok: false, reason: 'not attempted', retryable: true };
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      await this.limiter.acquire(signal);
      const { analysis, retryAfterMs } = await this.once(body, attributes, signal);
      last = analysis;
      if (analysis.ok || !analysis.retryable || attempt === this.options.maxAttempts) break;
      this.stats.retries += 1;
      await sleep(retryAfterMs ?? this.backoff(attempt), signal);
    }
    return last;
  }

  private async once(
    body: string,
    attributes: readonly Attribute[],
    signal: AbortSignal,
  ): Promise<{ analysis: Analysis; retryAfterMs?: number }> {
    this.stats.requests += 1;
    // One controller per request, unhooked in `finally`: AbortSignal.any() would leave a listener
    // on the run's signal for every request until garbage collection.
    const request = new AbortController();
    const onAbort = () => request.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort(new Error('request timeout'));
    }, this.options.requestTimeoutMs);
    let response: RawResponse;
    try {
      response = await this.post(body, request.signal);
    } catch (error) {
      signal.throwIfAborted();
      return {
        analysis: {
          ok: false,
          reason: timedOut ? 'request_timeout' : `network_error: ${(error as Error).message}`,
          retryable: true,
        },
      };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      json = undefined;
    }
    if (response.status >= 200 && response.status < 300) return { analysis: scoresOf(json, attributes) };
    const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${response.status}`;
    const retryable = response.status === 429 || response.status >= 500;
    if (response.status === 429) this.stats.rateLimited += 1;
    return {
      analysis: { ok: false, reason: `perspective_api_${response.status}: ${message}`, retryable },
      retryAfterMs: retryable ? parseRetryAfter(headerValue(response.headers['retry-after'])) : undefined,
    };
  }

  /** POST `body` over a kept-alive connection (node:http is far lighter than fetch at high rates). */
  private post(body: string, signal: AbortSignal): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = (this.target.protocol === 'https:' ? https : http).request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          signal,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.options.retryBaseMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

function scoresOf(json: unknown, attributes: readonly Attribute[]): Analysis {
  const scores = {} as Record<Attribute, number>;
  const attributeScores = (
    json as { attributeScores?: Record<string, { summaryScore?: { value?: unknown } }> } | undefined
  )?.attributeScores;
  for (const attribute of attributes) {
    const value = attributeScores?.[attribute]?.summaryScore?.value;
    if (typeof value !== 'number') {
      return { ok: false, reason: `perspective_api_response: no score for ${attribute}`, retryable: false };
    }
    scores[attribute] = value;
  }
  return { ok: true, scores };
}

/** `Retry-After` in seconds or as an HTTP date, as milliseconds (capped). */
export function parseRetryAfter(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - nowMs;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_DELAY_MS) : undefined;
}
