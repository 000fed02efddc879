import { sleep } from './sleep';

/**
 * Spaces request starts evenly at `ratePerSec` (a steady rate, not bursts): each caller of
 * {@link RateLimiter.acquire} gets the next free slot. Requests may overlap freely; only their
 * starts are paced, so throughput reaches the rate whatever the latency.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private nextSlotMs = 0;

  constructor(ratePerSec: number) {
    if (!(ratePerSec > 0)) throw new RangeError('the rate must be positive');
    this.intervalMs = 1000 / ratePerSec;
  }

  /** Start no request before `ms` from now (the API said its window is spent). */
  pauseFor(ms: number): void {
    this.nextSlotMs = Math.max(this.nextSlotMs, performance.now() + ms);
  }

  /** Wait for the next slot; rejects with the signal's reason when aborted first. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const now = performance.now();
    const slot = Math.max(now, this.nextSlotMs);
    this.nextSlotMs = slot + this.intervalMs;
    const waitMs = slot - now;
    return waitMs < 1 ? Promise.resolve() : sleep(waitMs, signal);
  }
}
