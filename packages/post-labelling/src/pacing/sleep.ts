import { AbortWatch } from './abort-watch';

/**
 * Wait `ms`; rejects with the signal's reason as soon as `signal` aborts (or at once if it has).
 * The signal is watched through its {@link AbortWatch}, not a listener per sleep: the pacing
 * sleeps about once per request at a steady rate.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const watch = signal && AbortWatch.of(signal);
    let slot = -1;
    const timer = setTimeout(() => {
      watch?.remove(slot);
      resolve();
    }, ms);
    if (watch)
      slot = watch.add((reason) => {
        clearTimeout(timer);
        reject(reason);
      });
  });
}
