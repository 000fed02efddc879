import { ClassifierGoneError, type ClassifierAnswer } from '../classifier';
import type { LabellingClient } from './labelling-client';

/** The fewest requests in flight at once a default allows (see {@link defaultMaxInFlight}). */
export const DEFAULT_MAX_IN_FLIGHT = 8;

/** The most requests in flight at once a default allows (see {@link defaultMaxInFlight}). */
export const DEFAULT_MAX_IN_FLIGHT_CAP = 64;

/**
 * Requests in flight at once unless `pacing.maxInFlight` says: a second's worth at the run's
 * rate, at least {@link DEFAULT_MAX_IN_FLIGHT} (8) and at most {@link DEFAULT_MAX_IN_FLIGHT_CAP}
 * (64). A run reaches its rate while rate x answer time stays within the bound (Little's law):
 * so with answers under a second up to 64 requests/s, and above that while answers take under
 * 64 / rate (160 ms at 400/s). Past that, raise `maxInFlight`.
 */
export function defaultMaxInFlight(requestsPerSecond: number): number {
  return Math.min(DEFAULT_MAX_IN_FLIGHT_CAP, Math.max(DEFAULT_MAX_IN_FLIGHT, Math.ceil(requestsPerSecond)));
}

/** A group of posts to send (a page): their texts, and what each post's request answered. */
export interface BatchOwner {
  /** The text of the post at `index` (of this owner). */
  textOf(index: number): string;
  /** The answer for the post at `index`: its label, or why it has none. */
  settle(index: number, answer: Record<string, unknown> | string): void;
  /** A request carrying some of this owner's posts ended the run (aborted, or the API is gone). */
  fail(error: unknown): void;
}

/**
 * Sends posts in requests of the classifier's batch size through the {@link LabellingClient}, at
 * most `maxInFlight` requests at once (waiting for a rate-limit slot, on the wire, or waiting to
 * retry). Posts wait in order as an owner and an index each; a request's texts are gathered only
 * when it is sent. Only full requests are sent until {@link flush}: the posts of a page's last,
 * part-filled request go with the next page's (a page ends on a whole input row, so every page
 * would otherwise waste part of a request).
 *
 * Without the bound, a page's every request would start at once whenever the API (or this
 * process) answers more slowly than the configured rate, each holding its socket, buffers and
 * promises; and objects that wait long enough to live through a young-generation GC are copied,
 * then promoted to the old generation, which is what makes V8 grow its heap.
 */
export class Dispatcher {
  private readonly owners: (BatchOwner | undefined)[] = [];
  private readonly indexes: number[] = [];
  private head = 0;
  private active = 0;
  private flushed = false;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly client: LabellingClient,
    private readonly maxInFlight: number,
    private readonly signal: AbortSignal,
    private readonly successor: string | undefined,
  ) {
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1))
      throw new RangeError('maxInFlight must be a whole number of at least 1');
  }

  /** Requests sent (or waiting for their start or a retry) and not yet answered for good. */
  get inFlight(): number {
    return this.active;
  }

  /** Posts waiting for a request. */
  get waiting(): number {
    return this.owners.length - this.head;
  }

  /** Queue the posts `indexes` of `owner`, in order. */
  send(owner: BatchOwner, indexes: readonly number[]): void {
    if (this.failure) {
      if (indexes.length) owner.fail(this.failure.error);
      return;
    }
    for (const index of indexes) {
      this.owners.push(owner);
      this.indexes.push(index);
    }
    this.pump();
  }

  /** No more posts will come: send the last, part-filled request too. */
  flush(): void {
    this.flushed = true;
    this.pump();
  }

  /** End: fail the owners of the posts still waiting with `error` (those in flight fail as their request does). */
  abort(error: unknown): void {
    this.failure ??= { error };
    let last: BatchOwner | undefined;
    for (let k = this.head; k < this.owners.length; k++) {
      const owner = this.owners[k]!;
      if (owner !== last) owner.fail(error);
      last = owner;
    }
    this.owners.length = 0;
    this.indexes.length = 0;
    this.head = 0;
  }

  private pump(): void {
    const size = this.client.classifier.batchSize;
    while (
      !this.failure &&
      this.active < this.maxInFlight &&
      (this.waiting >= size || (this.flushed && this.waiting > 0))
    ) {
      const n = Math.min(size, this.waiting);
      const owners: BatchOwner[] = new Array(n);
      const indexes: number[] = new Array(n);
      const texts: string[] = new Array(n);
      for (let k = 0; k < n; k++) {
        const owner = this.owners[this.head]!;
        owners[k] = owner;
        indexes[k] = this.indexes[this.head]!;
        texts[k] = owner.textOf(indexes[k]!);
        this.owners[this.head++] = undefined; // nothing long-lived keeps a sent post
      }
      if (this.head === this.owners.length || (this.head >= 1024 && this.head * 2 >= this.owners.length)) {
        // drop what was sent from the front (all of it, or half the array)
        this.owners.splice(0, this.head);
        this.indexes.splice(0, this.head);
        this.head = 0;
      }
      this.active += 1;
      void this.run(texts, owners, indexes).finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  private async run(texts: string[], owners: BatchOwner[], indexes: number[]): Promise<void> {
    let answer: ClassifierAnswer;
    try {
      answer = await this.client.score(texts, this.signal);
      if (!answer.ok && answer.gone)
        throw new ClassifierGoneError(this.client.classifier.name, answer.reason, this.successor);
    } catch (error) {
      let last: BatchOwner | undefined;
      for (const owner of owners) {
        if (owner !== last) owner.fail(error);
        last = owner;
      }
      return;
    }
    for (let k = 0; k < owners.length; k++) {
      const label = answer.ok ? answer.labels[k] : undefined;
      owners[k]!.settle(
        indexes[k]!,
        label ?? (answer.ok ? `${this.client.classifier.name}_response: no label for input ${k}` : answer.reason),
      );
    }
  }
}
