// A classification API's quota, as the loopback servers of the plugins' tests and benches enforce it
// (no test hooks here: the benches load it outside jest).

/**
 * A token bucket as an API's quota enforces it: `quotaPerSec` requests a second, a burst of a
 * tenth of a second. `take()` says whether a request is within the quota (always, without one).
 */
export function tokenBucket(quotaPerSec: number | undefined): { take(): boolean } {
  const burst = quotaPerSec ? Math.max(1, quotaPerSec / 10) : 0;
  let tokens = burst;
  let lastRefill = performance.now();
  return {
    take() {
      if (!quotaPerSec) return true;
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - lastRefill) / 1000) * quotaPerSec);
      lastRefill = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
