import { DEFAULT_RETRY_POLICY, backoffDelayMs } from '@pipeline-invocation/core';
import type { Classifier, ClassifierAnswer, RateLimitHint } from '../classifier';
import { requestSpan } from '../telemetry';
import { RateLimiter } from './rate-limiter';
import { sleep } from './sleep';

/** How a run paces and retries its requests. */
export interface PacingOptions {
  /** Steady request rate (requests per second); each request carries the classifier's batch of posts. */
  requestsPerSecond: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** First retry delay (ms); doubles each attempt, with jitter, capped at 30 s. `Retry-After` wins. */
  retryBaseMs: number;
  /**
   * Requests in flight at once, at most (waiting for their start, on the wire, or waiting to
   * retry): what bounds a run's memory when the API or this process answers more slowly than
   * the rate. Default {@link defaultMaxInFlight}: a second's worth of requests at the rate, 8 to
   * 64; the rate is reached while it is at least the rate times the answer time.
   */
  maxInFlight?: number;
}

/** Counters of what the client did. */
export interface ClientStats {
  requests: number;
  retries: number;
  rateLimited: number;
}

/** The longest a retry or a rate-limit pause waits. */
export const MAX_RETRY_DELAY_MS = 30_000;

/**
 * The one pacing and retry policy of every classifier: request starts spaced at the configured
 * rate, a pause when the API's rate-limit headers say the window is spent, retries of retryable
 * answers with exponential back-off and jitter, `Retry-After` honoured.
 */
export class LabellingClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, rateLimited: 0 };
  private readonly limiter: RateLimiter;
  /** Requests the API's last rate-limit headers said were left in its window, less those started since. */
  private windowLeft: number | undefined;
  private windowResetsAt = 0;
  /** Requests a window allows, when the headers said. */
  private windowLimit: number | undefined;
  /** Requests sent and not yet answered. */
  private inFlight = 0;

  constructor(
    readonly classifier: Classifier,
    private readonly pacing: PacingOptions,
  ) {
    this.limiter = new RateLimiter(pacing.requestsPerSecond);
  }

  /** Requests per second. */
  get ratePerSec(): number {
    return this.pacing.requestsPerSecond;
  }

  /** Score `texts` (one request's worth), retrying as the policy says. Rejects only when `signal` aborts. */
  async score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer> {
    let last: ClassifierAnswer = { ok: false, reason: 'not attempted', retryable: true };
    for (let attempt = 1; attempt <= this.pacing.maxAttempts; attempt++) {
      await this.limiter.acquire(signal);
      await this.waitForWindow(signal); // after the slot: what the headers said by now counts
      signal.throwIfAborted();
      this.stats.requests += 1;
      this.inFlight += 1;
      try {
        last = await requestSpan(this.classifier.name, texts.length, attempt, () =>
          this.classifier.score(texts, signal),
        );
      } finally {
        this.inFlight -= 1;
      }
      this.respect(last.rateLimit);
      if (last.ok || !last.retryable || last.gone || attempt === this.pacing.maxAttempts) break;
      if (/_429\b/.test(last.reason)) this.stats.rateLimited += 1;
      this.stats.retries += 1;
      await sleep(last.retryAfterMs ?? this.backoff(attempt), signal);
    }
    return last;
  }

  /** Remember what the API's rate-limit headers say is left of its request window. */
  private respect(hint: RateLimitHint | undefined): void {
    if (hint?.remainingRequests === undefined || hint.resetRequestsMs === undefined) return;
    if (!Number.isFinite(hint.remainingRequests)) return;
    // requests still in flight may not be counted in that answer yet: count them against the window
    this.windowLeft = Math.max(0, hint.remainingRequests - this.inFlight);
    if (hint.limitRequests !== undefined && Number.isFinite(hint.limitRequests)) this.windowLimit = hint.limitRequests;
    this.windowResetsAt = performance.now() + Math.min(hint.resetRequestsMs, MAX_RETRY_DELAY_MS);
  }

  /** While the API's window is spent, start nothing until it resets; then count this request against it. */
  private async waitForWindow(signal: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      if (this.windowLeft === undefined || this.windowLeft > 0) break;
      if (now >= this.windowResetsAt) {
        // a new window: as large as the headers said windows are (the next answer says for sure)
        this.windowLeft = this.windowLimit;
        this.windowResetsAt = Infinity; // until an answer says when this window ends
        break;
      }
      // re-check at least every 100 ms: an answer may bring news of the window
      await sleep(Math.min(this.windowResetsAt - now, 100), signal);
    }
    if (this.windowLeft !== undefined) this.windowLeft -= 1;
  }

  close(): void {
    this.classifier.close?.();
  }

  /** The delay before retry `attempt`, from core's one retry policy (exponential, jitter, capped at 30 s). */
  private backoff(attempt: number): number {
    return backoffDelayMs(
      {
        ...DEFAULT_RETRY_POLICY,
        attempts: this.pacing.maxAttempts,
        baseDelayMs: this.pacing.retryBaseMs,
        maxDelayMs: MAX_RETRY_DELAY_MS,
        jitter: 0.5,
      },
      attempt,
    );
  }
}

/** `Retry-After` in seconds or as an HTTP date, as milliseconds (capped at 30 s). */
export function parseRetryAfter(header: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - nowMs;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_DELAY_MS) : undefined;
}

/** A rate-limit window length as OpenAI writes it (`1s`, `6m0s`, `20ms`, `1h2m3.5s`), as milliseconds. */
export function parseDuration(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== value.trim()) return undefined;
  const unit = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
}
