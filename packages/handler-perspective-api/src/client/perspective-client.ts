import type { Attribute } from '../attributes';
import { RateLimiter } from './rate-limiter';

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

/**
 * A client of the Perspective `comments:analyze` endpoint (or any compatible service: the base
 * URL is configurable, since Google ends the API on 31 Dec 2026). Requests are paced at a
 * steady rate, connections are kept alive (Node's fetch does so), and 429, 5xx and network
 * errors are retried with exponential backoff and jitter, honouring `Retry-After`. A 400 is not
 * retried: the post fails with the API's reason.
 */
export class PerspectiveClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, rateLimited: 0 };
  private readonly limiter: RateLimiter;
  private readonly url: string;

  constructor(private readonly options: PerspectiveClientOptions) {
    this.limiter = new RateLimiter(options.qps);
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/v1alpha1/comments:analyze?key=${encodeURIComponent(options.apiKey)}`;
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
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.requestTimeoutMs)]),
      });
    } catch (error) {
      signal.throwIfAborted();
      const timedOut = (error as Error).name === 'TimeoutError';
      return {
        analysis: {
          ok: false,
          reason: timedOut ? 'request_timeout' : `network_error: ${(error as Error).message}`,
          retryable: true,
        },
      };
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      json = undefined;
    }
    if (response.ok) return { analysis: scoresOf(json, attributes) };
    const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? response.statusText;
    const retryable = response.status === 429 || response.status >= 500;
    if (response.status === 429) this.stats.rateLimited += 1;
    return {
      analysis: { ok: false, reason: `perspective_api_${response.status}: ${message}`, retryable },
      retryAfterMs: retryable ? parseRetryAfter(response.headers.get('retry-after')) : undefined,
    };
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
