import type { Clock, TimerHandle } from '@pipeline-invocation/core';

interface Timer {
  id: number;
  atMs: number;
  fn: () => void;
  everyMs?: number;
}

/**
 * A {@link Clock} that only moves when the test moves it: `advance(ms)` runs the timers that fall
 * due, in order. `sleep(ms)` (the retry policy's delays) moves the clock by `ms` at once and
 * tells `onSleep`, so a retried store call costs no wall time and a test can act "during" the
 * delay (release a lock, bring a store back).
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private timers: Timer[] = [];
  private nextId = 1;
  /** Delays slept so far (ms), in order. */
  readonly slept: number[] = [];
  /** Called at each `sleep`, before it resolves. */
  onSleep: ((ms: number) => void) | undefined;

  constructor(startMs = Date.UTC(2026, 0, 1, 12)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** The clock's time as ISO-8601, moved by `offsetMs`. */
  iso(offsetMs = 0): string {
    return new Date(this.nowMs + offsetMs).toISOString();
  }

  /** Move the clock forward, running every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.atMs <= target).sort((a, b) => a.atMs - b.atMs || a.id - b.id)[0];
      if (!due) break;
      this.nowMs = Math.max(this.nowMs, due.atMs);
      if (due.everyMs !== undefined) due.atMs += Math.max(1, due.everyMs);
      else this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.nowMs = target;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add({ id: this.nextId++, atMs: this.nowMs + Math.max(0, ms), fn });
  }

  clearTimeout(timer: TimerHandle | undefined): void {
    this.timers = this.timers.filter((t) => (t.id as unknown) !== timer);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add({ id: this.nextId++, atMs: this.nowMs + Math.max(1, ms), fn, everyMs: ms });
  }

  clearInterval(timer: TimerHandle | undefined): void {
    this.clearTimeout(timer);
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.slept.push(ms);
    this.advance(ms);
    this.onSleep?.(ms);
  }

  timeoutSignal(ms: number): AbortSignal {
    const controller = new AbortController();
    this.setTimeout(
      () => controller.abort(new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError')),
      ms,
    );
    return controller.signal;
  }

  private add(timer: Timer): TimerHandle {
    this.timers.push(timer);
    return timer.id as unknown as TimerHandle;
  }
}
