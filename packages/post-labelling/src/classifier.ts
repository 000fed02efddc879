/**
 * What one request to a classification API answered. A classifier never throws for an API
 * error: it says whether the error is worth another attempt, and whether the API is gone for good.
 */
export type ClassifierAnswer =
  | {
      ok: true;
      /** One label per text, in order: the output fields this classifier adds (`prob_*`, `label_model`, ...). */
      labels: Record<string, unknown>[];
      /** What the API's rate-limit headers said, when it sent any. */
      rateLimit?: RateLimitHint;
    }
  | {
      ok: false;
      /** Short and machine-readable first (`<api>_<status>: <message>`): kept with requeued posts. */
      reason: string;
      /** 429, 5xx, time-outs and network errors are; a refused request (400) is not. */
      retryable: boolean;
      /** The server's `Retry-After`, as milliseconds. */
      retryAfterMs?: number;
      /** The API has been shut down or disabled: the run stops at once and requeues nothing. */
      gone?: boolean;
      rateLimit?: RateLimitHint;
    };

/** The `x-ratelimit-*` headers of an answer, as numbers. */
export interface RateLimitHint {
  /** Requests a window allows. */
  limitRequests?: number;
  /** Requests left in the current window. */
  remainingRequests?: number;
  /** When the request window resets (ms from now). */
  resetRequestsMs?: number;
}

/**
 * A classifier: the only part of a labelling plugin that knows its API. The engine does the rest
 * (queues, pages, filters, de-duplication, pacing, retries, commits, failure rows, counts).
 *
 * @example
 * const classifier: Classifier = {
 *   name: 'my_model',
 *   batchSize: 16,
 *   async score(texts) {
 *     return { ok: true, labels: texts.map((t) => ({ prob_long: t.length > 280 ? 1 : 0, label_model: 'length-v1' })) };
 *   },
 * };
 */
export interface Classifier {
  /**
   * The classifier's name in run metadata (`inference_type`) and in the failure metadata of
   * requeued posts (`reason: "failed_label_<name>"`), e.g. `perspective_api`.
   */
  readonly name: string;
  /** How many posts one request carries (1 for Perspective, many for a batch endpoint). */
  readonly batchSize: number;
  /** Score one request's texts. Rejects only when `signal` aborts. */
  score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer>;
  /** Release connections when the run ends. */
  close?(): void;
}

/** Raised when a classifier's API answers that it has been shut down: the run ends, nothing is requeued. */
export class ClassifierGoneError extends Error {
  override name = 'ClassifierGoneError';
  constructor(
    readonly classifier: string,
    readonly reason: string,
    successor: string | undefined,
  ) {
    super(
      `the ${classifier} API answered that it is no longer available (${reason}). The run stopped at that answer: ` +
        `no post was retried, and the posts not yet labelled are still pending in the input queue.` +
        (successor ? ` ${successor}` : ''),
    );
  }
}
