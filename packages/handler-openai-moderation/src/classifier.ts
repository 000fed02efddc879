import OpenAI from 'openai';
import {
  parseDuration,
  parseRetryAfter,
  type Classifier,
  type ClassifierAnswer,
  type RateLimitHint,
} from '@pipeline-invocation/post-labelling';

/** Settings of {@link ModerationClassifier}. */
export interface ModerationClassifierOptions {
  apiKey: string;
  baseUrl: string;
  model: string;
  batchSize: number;
  requestTimeoutMs: number;
}

/** The output field of a moderation category: `prob_` and the name with `/` and `-` as `_` (`self-harm/intent` -> `prob_self_harm_intent`). */
export const probField = (category: string): string => `prob_${category.replace(/[/-]/g, '_')}`;

/**
 * A {@link Classifier} over OpenAI's `POST /moderations` (or a compatible server), through the
 * official `openai` client with its own retries off (the labelling engine's one retry policy
 * applies). Many posts per request (`input` is an array); each label carries `flagged`,
 * `label_model` (the model the API answered with) and `prob_<category>` for every category the
 * API scored. The `x-ratelimit-*` headers are passed to the engine's pacing.
 */
export class ModerationClassifier implements Classifier {
  readonly name = 'openai_moderation';
  readonly batchSize: number;
  private readonly client: OpenAI;

  constructor(private readonly options: ModerationClassifierOptions) {
    this.batchSize = options.batchSize;
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseUrl,
      maxRetries: 0,
      timeout: options.requestTimeoutMs,
    });
  }

  async score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer> {
    try {
      const { data, response } = await this.client.moderations
        .create({ model: this.options.model, input: [...texts] }, { signal })
        .withResponse();
      const rateLimit = rateLimitOf(response.headers);
      if (!Array.isArray(data.results) || data.results.length !== texts.length) {
        return {
          ok: false,
          reason: `openai_moderation_response: ${data.results?.length ?? 0} results for ${texts.length} inputs`,
          retryable: false,
          rateLimit,
        };
      }
      const labels = data.results.map((result) => {
        const label: Record<string, unknown> = { flagged: result.flagged === true, label_model: data.model };
        for (const [category, score] of Object.entries(result.category_scores ?? {}))
          label[probField(category)] = score;
        return label;
      });
      return { ok: true, labels, rateLimit };
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof OpenAI.APIError && error.status !== undefined) {
        const retryable = error.status === 429 || error.status >= 500 || error.status === 408;
        return {
          ok: false,
          reason: `openai_moderation_${error.status}: ${error.message}`,
          retryable,
          retryAfterMs: retryable ? retryAfterOf(error.headers) : undefined,
          rateLimit: error.headers ? rateLimitOf(error.headers) : undefined,
        };
      }
      // no answer: time-out, refused or dropped connection
      const timedOut = error instanceof OpenAI.APIConnectionTimeoutError;
      return {
        ok: false,
        reason: timedOut ? 'request_timeout' : `network_error: ${(error as Error).message}`,
        retryable: true,
      };
    }
  }
}

function retryAfterOf(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  return Number.isFinite(ms) && ms >= 0 && headers?.get('retry-after-ms')
    ? ms
    : parseRetryAfter(headers?.get('retry-after'));
}

function rateLimitOf(headers: Headers): RateLimitHint | undefined {
  const remaining = headers.get('x-ratelimit-remaining-requests');
  if (remaining === null) return undefined;
  const limit = headers.get('x-ratelimit-limit-requests');
  return {
    ...(limit !== null ? { limitRequests: Number(limit) } : {}),
    remainingRequests: Number(remaining),
    resetRequestsMs: parseDuration(headers.get('x-ratelimit-reset-requests')),
  };
}
