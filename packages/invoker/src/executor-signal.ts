/**
 * A cancellation of a run that is not an `AbortSignal` of its own: `pipeline cancel`, or the run
 * ended elsewhere, seen by the heartbeat. The first reason is kept.
 */
export class RunCancel {
  aborted = false;
  reason: unknown;
  /** Told of the cancellation (the handler's signal, once it exists). */
  onAbort: ((reason: unknown) => void) | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.onAbort?.(reason);
  }
}

/**
 * The handler's signal: aborted by the run's cancellation, its timeout or the caller's signal,
 * whichever comes first, with that one's reason (as `AbortSignal.any([cancel, timeout, caller])`,
 * which costs tens of microseconds a run). The `AbortSignal` itself is made only when the handler
 * reads it (most handlers never do); it is then aborted already when the run was.
 */
export class HandlerSignal {
  aborted = false;
  reason: unknown;
  /** Whether the timeout fired (whatever aborted first). */
  timedOut = false;
  private controller: AbortController | undefined;
  private stopped: ((reason: unknown) => void) | undefined;
  /** Whether this run is among the listeners of the caller's signal (see {@link listen}). */
  private listening = false;

  constructor(
    cancel: RunCancel,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    if (cancel.aborted) this.abort(cancel.reason);
    else if (callerSignal?.aborted) this.abort(callerSignal.reason);
    cancel.onAbort = (reason) => this.abort(reason);
    if (callerSignal && !callerSignal.aborted) {
      listen(callerSignal, this);
      this.listening = true;
    }
  }

  /** The caller's signal aborted (told by {@link listen}'s one listener of it). */
  callerAborted(): void {
    this.listening = false;
    this.abort(this.callerSignal!.reason);
  }

  /** The `AbortSignal` the handler sees (made on first read). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** The timeout fired. */
  timeout(reason: unknown): void {
    this.timedOut = true;
    this.abort(reason);
  }

  /**
   * `work`'s outcome, or a rejection with the reason once the signal aborts (at once when it
   * has): `Promise.race([work, whenAborted])` in one promise.
   */
  race<T>(work: Promise<T> | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.aborted) return reject(this.reason);
      this.stopped = reject;
      work?.then(resolve, reject);
    });
  }

  /** The run is over: the caller's signal no longer holds a listener of it. */
  dispose(): void {
    if (!this.listening) return;
    this.listening = false;
    unlisten(this.callerSignal!, this);
  }

  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.stopped?.(reason);
  }
}

/** The runs listening to a caller's signal, and the one listener they share on it. */
interface Listeners {
  readonly runs: Set<HandlerSignal>;
  readonly listener: () => void;
}

const listenersOf = new WeakMap<AbortSignal, Listeners>();

/**
 * Tell `run` when `signal` aborts. The runs on one signal (a queue worker's runs share its
 * closing signal) share one listener of it, added when the first starts and removed when the
 * last ends: a run costs a set entry, not an EventTarget listener (its add walks the listeners
 * already there). Each run is told in the order it started, with the signal's reason, once.
 */
function listen(signal: AbortSignal, run: HandlerSignal): void {
  let entry = listenersOf.get(signal);
  if (!entry) {
    const runs = new Set<HandlerSignal>();
    const listener = () => {
      listenersOf.delete(signal);
      for (const each of runs) each.callerAborted();
      runs.clear();
    };
    entry = { runs, listener };
    listenersOf.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  entry.runs.add(run);
}

/** `run` no longer listens to `signal`; the last run's leaving removes the shared listener. */
function unlisten(signal: AbortSignal, run: HandlerSignal): void {
  const entry = listenersOf.get(signal);
  if (!entry?.runs.delete(run) || entry.runs.size > 0) return;
  listenersOf.delete(signal);
  signal.removeEventListener('abort', entry.listener);
}
