import { sleep } from './sleep';

/**
 * Paces request starts at `ratePerSec`: a token bucket refilled continuously at that rate, holding
 * at most a small burst (2 requests, or 20 ms' worth at high rates) so that a late timer or a busy
 * event loop never sends a bunch of requests at once. Waiters are served in order. Requests may
 * overlap freely; only their starts are paced, so throughput reaches the rate whatever the
 * latency.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private readonly capacity: number;
  private tokens: number;
  private refilledAt = performance.now();
  private turn: Promise<void> = Promise.resolve();

  constructor(private readonly ratePerSec: number) {
    if (!(ratePerSec > 0)) throw new RangeError('the rate must be positive');
    this.intervalMs = 1000 / ratePerSec;
    this.capacity = Math.max(2, Math.ceil(ratePerSec * 0.02));
    this.tokens = 1; // the first request goes at once; a burst has to be earned
  }

  /** Wait for this request's turn; rejects with the signal's reason when aborted first. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const mine = this.turn.then(() => this.take(signal));
    this.turn = mine.catch(() => {}); // an aborted waiter does not hold up the others
    return mine;
  }

  private async take(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted(); // a waiter whose turn comes after the run ended sends nothing
      const now = performance.now();
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.refilledAt) / this.intervalMs);
      this.refilledAt = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.max(1, (1 - this.tokens) * this.intervalMs), signal);
    }
  }
}
