/**
 * Tells many short-lived waits (requests on the wire, pacing sleeps) that one long-lived signal
 * (a run's) aborted, through a single listener on that signal.
 *
 * Why not a listener per request: Node's `EventTarget` unlinks a removed listener from its list
 * but leaves the listener pointing at the one added after it. Once a removed listener has been
 * moved to V8's old generation (any full GC does that to a request in flight), it keeps the next
 * listener alive through every young-generation GC, that one the next, and so on: every later
 * request's closures, response and buffers survive and are promoted until the next full GC. At
 * thousands of requests a second the young generation then grows to its maximum (128 MB on
 * Node 24) and the old one fills with garbage. Here a wait takes a slot in an array and gives it
 * back: nothing links one wait to the next.
 *
 * @example
 * const watch = AbortWatch.of(signal);
 * const slot = watch.add((reason) => request.destroy(reason as Error));
 * try { await answer; } finally { watch.remove(slot); }
 */
export class AbortWatch {
  private static readonly watches = new WeakMap<AbortSignal, AbortWatch>();

  /** The watch of `signal`: one per signal, made (with the signal's one listener) on first use. */
  static of(signal: AbortSignal): AbortWatch {
    let watch = AbortWatch.watches.get(signal);
    if (!watch) {
      watch = new AbortWatch(signal);
      AbortWatch.watches.set(signal, watch);
    }
    return watch;
  }

  private readonly callbacks: (((reason: unknown) => void) | undefined)[] = [];
  private readonly free: number[] = [];

  private constructor(private readonly signal: AbortSignal) {
    if (!signal.aborted) signal.addEventListener('abort', () => this.fire(), { once: true });
  }

  /**
   * Call `onAbort` with the signal's reason when it aborts, unless {@link remove} comes first (at
   * once when it has already aborted). Returns the slot to give to {@link remove}.
   */
  add(onAbort: (reason: unknown) => void): number {
    if (this.signal.aborted) {
      onAbort(this.signal.reason);
      return -1;
    }
    const slot = this.free.length ? this.free.pop()! : this.callbacks.length;
    this.callbacks[slot] = onAbort;
    return slot;
  }

  /** Stop watching for the wait in `slot` (what {@link add} returned). */
  remove(slot: number): void {
    if (slot < 0 || this.callbacks[slot] === undefined) return;
    this.callbacks[slot] = undefined;
    this.free.push(slot);
  }

  /** Waits being watched (for tests and diagnostics). */
  get size(): number {
    return this.callbacks.length - this.free.length;
  }

  private fire(): void {
    const reason = this.signal.reason;
    for (let slot = 0; slot < this.callbacks.length; slot++) {
      const onAbort = this.callbacks[slot];
      if (!onAbort) continue;
      this.callbacks[slot] = undefined;
      this.free.push(slot);
      onAbort(reason);
    }
  }
}
