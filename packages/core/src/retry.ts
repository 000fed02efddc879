import { systemClock, type Clock } from './clock';

/**
 * The one retry policy: exponential backoff with jitter inside a bounded budget. Store calls,
 * the queue and the labelling client all take their delays from it.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 3, as the original library). */
  readonly attempts: number;
  /** The delay before the second attempt (ms); each later one is `factor` times longer. */
  readonly baseDelayMs: number;
  readonly factor: number;
  /** No single delay is longer (ms). */
  readonly maxDelayMs: number;
  /** Each delay is moved by up to this fraction, at random, either way (0 to 1). */
  readonly jitter: number;
  /** No retry starts once this much time has passed since the first attempt (ms). */
  readonly budgetMs: number;
  /** Explicit delays (ms) instead of `baseDelayMs`/`factor`: `[1000, 2000]` is 3 attempts. */
  readonly delaysMs?: readonly number[];
}

/** The default: 3 attempts, 1 s then 2 s (±20 %), as the original library's writes, within 30 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  baseDelayMs: 1000,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  budgetMs: 30_000,
});

/** A policy with explicit delays (`PIPELINE_...` settings and tests): `delaysMs.length + 1` attempts, no jitter. */
export function retryPolicyFromDelays(
  delaysMs: readonly number[],
  base: RetryPolicy = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  return { ...base, attempts: delaysMs.length + 1, delaysMs: [...delaysMs], jitter: 0 };
}

/** Whether another attempt may succeed, as the caller's error classification says (never from message text). */
export interface RetryDecision {
  readonly retryable: boolean;
  /** A wait the failure asked for (a 429's Retry-After), used when longer than the policy's delay. */
  readonly retryAfterMs?: number;
}

/** The delay (ms) before attempt `attempt + 1` (attempt 1 is the first retry), before jitter. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const planned = policy.delaysMs
    ? (policy.delaysMs[attempt - 1] ?? policy.delaysMs.at(-1) ?? 0)
    : Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** (attempt - 1));
  const spread = planned * policy.jitter;
  return Math.max(0, Math.round(planned - spread + 2 * spread * random()));
}

/** Options of {@link retry}. */
export interface RetryOptions {
  readonly policy?: RetryPolicy;
  readonly clock?: Clock;
  /** Which failures are worth another attempt. */
  readonly classify: (error: unknown) => RetryDecision;
  /** Stops retrying (the pending delay rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Told before each delay (to log it). */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  readonly random?: () => number;
}

/**
 * Call `fn` until it succeeds, the classification says a failure is final, the attempts are
 * spent or the budget is: then its last error escapes unchanged.
 */
export function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const startedMs = (options.clock ?? systemClock).now();
  // The first attempt without the retry loop's state: most calls succeed at once.
  let first: Promise<T>;
  try {
    first = Promise.resolve(fn(1));
  } catch (error) {
    return retryAfter(fn, options, startedMs, error);
  }
  return first.catch((error: unknown) => retryAfter(fn, options, startedMs, error));
}

/** The rest of {@link retry}, once its first attempt failed with `error`. */
async function retryAfter<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
  startedMs: number,
  error: unknown,
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const clock = options.clock ?? systemClock;
  for (let attempt = 1; ; attempt++) {
    if (attempt >= policy.attempts) throw error;
    const decision = options.classify(error);
    if (!decision.retryable) throw error;
    const delayMs = Math.max(backoffDelayMs(policy, attempt, options.random), decision.retryAfterMs ?? 0);
    if (clock.now() + delayMs - startedMs > policy.budgetMs) throw error;
    options.onRetry?.(error, attempt, delayMs);
    await clock.sleep(delayMs, options.signal);
    try {
      return await fn(attempt + 1);
    } catch (next) {
      error = next;
    }
  }
}
