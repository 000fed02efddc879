import { DEFAULT_RETRY_POLICY, backoffDelayMs, retry, retryPolicyFromDelays, systemClock, toClock } from '../src';

afterEach(() => jest.useRealTimers());

describe('the one clock', () => {
  it('is driven by jest fake timers: timeoutSignal aborts exactly at its time, with a TimeoutError', () => {
    jest.useFakeTimers();
    const signal = systemClock.timeoutSignal(5000);
    jest.advanceTimersByTime(4999);
    expect(signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('sleep resolves after its time and rejects with the reason when its signal aborts first', async () => {
    jest.useFakeTimers();
    let slept = false;
    const sleeping = systemClock.sleep(1000).then(() => (slept = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(slept).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(slept).toBe(true);

    const controller = new AbortController();
    const aborted = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
  });

  it('toClock completes a clock that only tells the time with timers that use it', async () => {
    jest.useFakeTimers();
    const clock = toClock({ now: () => 42 });
    expect(clock.now()).toBe(42);
    const signal = clock.timeoutSignal(100);
    jest.advanceTimersByTime(100);
    expect(signal.aborted).toBe(true);
    expect(toClock(systemClock)).toBe(systemClock);
  });
});

describe('the one retry policy', () => {
  const transient = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  const classify = (e: unknown) => ({ retryable: (e as { code?: string }).code === 'ECONNRESET' });

  it('retries transient failures after 1 s then 2 s (as the original), and gives up after 3 attempts', async () => {
    jest.useFakeTimers();
    const calls: number[] = [];
    const result = retry(
      async () => {
        calls.push(Date.now());
        throw transient;
      },
      { classify, random: () => 0.5 },
    );
    result.catch(() => {});
    await jest.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(2000);
    expect(calls).toHaveLength(3);
    await expect(result).rejects.toBe(transient);
    expect(calls[1]! - calls[0]!).toBe(1000);
    expect(calls[2]! - calls[1]!).toBe(2000);
  });

  it('never retries what the classification calls final, and returns the first success', async () => {
    const final = new Error('ValidationException');
    let attempts = 0;
    await expect(
      retry(
        async () => {
          attempts += 1;
          throw final;
        },
        { classify },
      ),
    ).rejects.toBe(final);
    expect(attempts).toBe(1);
    let n = 0;
    const value = await retry(async () => (++n < 2 ? Promise.reject(transient) : 'ok'), {
      classify,
      policy: retryPolicyFromDelays([0]),
    });
    expect([value, n]).toEqual(['ok', 2]);
  });

  it('jitters within its bounds, caps each delay, and stops when the budget would be exceeded', async () => {
    const policy = { ...DEFAULT_RETRY_POLICY, attempts: 10, maxDelayMs: 5000 };
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(800);
    expect(backoffDelayMs(policy, 1, () => 1)).toBe(1200);
    expect(backoffDelayMs(policy, 8, () => 0.5)).toBe(5000);
    jest.useFakeTimers();
    let attempts = 0;
    const result = retry(
      async () => {
        attempts += 1;
        throw transient;
      },
      { classify, policy: { ...policy, budgetMs: 3500, jitter: 0 } },
    );
    result.catch(() => {});
    await jest.advanceTimersByTimeAsync(10_000);
    await expect(result).rejects.toBe(transient);
    expect(attempts).toBe(3); // 1 s + 2 s fit the 3.5 s budget; the next 4 s would not
  });
});
