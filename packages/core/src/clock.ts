/** A timer made by a {@link Clock} (Node's `Timeout`). */
export type TimerHandle = ReturnType<typeof globalThis.setTimeout>;

/**
 * The one clock: every package reads the time and sets its timers through it, so that a test
 * drives every expiry (heartbeat, staleness, grace, timeouts, retention, schedules, outbox
 * retries) with jest's fake timers instead of sleeping. Injected as the `CLOCK` token.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Like `setTimeout`; `unref: true` lets the process end while it waits. */
  setTimeout(fn: () => void, ms: number, options?: { unref?: boolean }): TimerHandle;
  clearTimeout(timer: TimerHandle | undefined): void;
  /** Like `setInterval`; `unref: true` lets the process end while it runs. */
  setInterval(fn: () => void, ms: number, options?: { unref?: boolean }): TimerHandle;
  clearInterval(timer: TimerHandle | undefined): void;
  /** Resolves after `ms`, or rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * A signal that aborts with a `TimeoutError` DOMException after `ms` (as `AbortSignal.timeout`,
   * whose Node-internal timer no fake clock can drive; this one runs on the clock's own timers).
   * Unref'd: waiting for it keeps no process alive.
   */
  timeoutSignal(ms: number): AbortSignal;
}

/**
 * The system clock. Each call looks the global timer functions up anew, so jest's fake timers
 * (installed after this module loaded) drive it too.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number, options?: { unref?: boolean }): TimerHandle {
    const timer = globalThis.setTimeout(fn, ms);
    if (options?.unref) timer.unref?.();
    return timer;
  },
  clearTimeout: (timer: TimerHandle | undefined) => globalThis.clearTimeout(timer),
  setInterval(fn: () => void, ms: number, options?: { unref?: boolean }): TimerHandle {
    const timer = globalThis.setInterval(fn, ms);
    if (options?.unref) timer.unref?.();
    return timer;
  },
  clearInterval: (timer: TimerHandle | undefined) => globalThis.clearInterval(timer),
  sleep: (ms: number, signal?: AbortSignal) => sleepOn(systemClock, ms, signal),
  timeoutSignal: (ms: number) => timeoutSignalOn(systemClock, ms),
});

/**
 * A whole {@link Clock} from a partial one: a test or host that passes only `{ now }` (the clock
 * of earlier versions) gets the system's timers with its own `now`.
 */
export function toClock(partial: Partial<Clock> | undefined): Clock {
  if (!partial) return systemClock;
  if (isWholeClock(partial)) return partial;
  const clock: Clock = {
    now: partial.now ?? systemClock.now,
    setTimeout: partial.setTimeout ?? systemClock.setTimeout,
    clearTimeout: partial.clearTimeout ?? systemClock.clearTimeout,
    setInterval: partial.setInterval ?? systemClock.setInterval,
    clearInterval: partial.clearInterval ?? systemClock.clearInterval,
    sleep: partial.sleep ?? ((ms, signal) => sleepOn(clock, ms, signal)),
    timeoutSignal: partial.timeoutSignal ?? ((ms) => timeoutSignalOn(clock, ms)),
  };
  return clock;
}

function isWholeClock(c: Partial<Clock>): c is Clock {
  return (
    typeof c.now === 'function' &&
    typeof c.setTimeout === 'function' &&
    typeof c.clearTimeout === 'function' &&
    typeof c.setInterval === 'function' &&
    typeof c.clearInterval === 'function' &&
    typeof c.sleep === 'function' &&
    typeof c.timeoutSignal === 'function'
  );
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function timeoutSignalOn(clock: Clock, ms: number): AbortSignal {
  const controller = new AbortController();
  clock.setTimeout(
    () => controller.abort(new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError')),
    ms,
    { unref: true },
  );
  return controller.signal;
}
