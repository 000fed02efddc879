import type { IncomingHttpHeaders } from 'node:http';
import {
  JsonPost,
  failedRequest,
  parseDuration,
  parseRetryAfter,
  type Classifier,
  type ClassifierAnswer,
  type PostResponse,
  type RateLimitHint,
} from '@pipeline-invocation/post-labelling';

/** Settings of {@link ModerationClassifier}. */
export interface ModerationClassifierOptions {
  apiKey: string;
  baseUrl: string;
  model: string;
  batchSize: number;
  requestTimeoutMs: number;
  /** Sent as `OpenAI-Organization` when set (as OpenAI's client sends `OPENAI_ORG_ID`). */
  organization?: string;
  /** Sent as `OpenAI-Project` when set (as OpenAI's client sends `OPENAI_PROJECT_ID`). */
  project?: string;
}

/** The output field of a moderation category: `prob_` and the name with `/` and `-` as `_` (`self-harm/intent` -> `prob_self_harm_intent`). */
export const probField = (category: string): string => `prob_${category.replace(/[/-]/g, '_')}`;

/** {@link probField}, remembered: the API answers with the same dozen categories for every post. */
const fields = new Map<string, string>();
function fieldOf(category: string): string {
  let field = fields.get(category);
  if (field === undefined) {
    field = probField(category);
    if (fields.size < 1000) fields.set(category, field); // bounded, whatever a server answers
  }
  return field;
}

interface ModerationResponse {
  model?: unknown;
  results?: { flagged?: unknown; category_scores?: Record<string, unknown> }[];
}

/**
 * A {@link Classifier} over OpenAI's `POST /moderations` (or a compatible server). Many posts per
 * request (`input` is an array); each label carries `flagged`, `label_model` (the model the API
 * answered with) and `prob_<category>` for every category the API scored. The `x-ratelimit-*`
 * headers are passed to the engine's pacing; error answers are worded as OpenAI's own client
 * words them (`<status> <error.message>`).
 *
 * It speaks HTTP through the engine's {@link JsonPost} (`node:http`, kept-alive connections), as
 * the Perspective handler does, not through the `openai` client: that client's `fetch` costs
 * several times the memory per request and listens to the run's signal once per request, which
 * made a 200,000-post run peak at over 300 MB on Node 24 (see the README's "Memory").
 */
export class ModerationClassifier implements Classifier {
  readonly name = 'openai_moderation';
  readonly batchSize: number;
  private readonly http: JsonPost;
  private readonly bodyStart: string;

  constructor(private readonly options: ModerationClassifierOptions) {
    this.batchSize = options.batchSize;
    const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/moderations`);
    this.http = new JsonPost(url, {
      timeoutMs: options.requestTimeoutMs,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': '@pipeline-invocation/handler-openai-moderation',
        ...(options.organization ? { 'openai-organization': options.organization } : {}),
        ...(options.project ? { 'openai-project': options.project } : {}),
      },
    });
    this.bodyStart = `{"model":${JSON.stringify(options.model)},"input":`;
  }

  async score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer> {
    let response: PostResponse;
    try {
      // the same JSON as JSON.stringify({ model, input: texts })
      response = await this.http.send(`${this.bodyStart}${JSON.stringify(texts)}}`, signal);
    } catch (error) {
      return failedRequest(error, signal);
    }
    const rateLimit = rateLimitOf(response.headers);
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      json = undefined;
    }
    const { status } = response;
    if (status < 200 || status >= 300) {
      const retryable = status === 429 || status >= 500 || status === 408;
      return {
        ok: false,
        reason: `openai_moderation_${status}: ${errorMessage(status, json, response.body)}`,
        retryable,
        retryAfterMs: retryable ? retryAfterOf(response.headers) : undefined,
        rateLimit,
      };
    }
    const data = json as ModerationResponse | undefined;
    if (!Array.isArray(data?.results) || data.results.length !== texts.length) {
      return {
        ok: false,
        reason: `openai_moderation_response: ${Array.isArray(data?.results) ? data.results.length : 0} results for ${texts.length} inputs`,
        retryable: false,
        rateLimit,
      };
    }
    const labels = data.results.map((result) => {
      const label: Record<string, unknown> = { flagged: result.flagged === true, label_model: data.model };
      const scores = result.category_scores;
      // for...in and a cached field name: no pair array or new name string per category and post
      for (const category in scores) if (Object.hasOwn(scores, category)) label[fieldOf(category)] = scores[category];
      return label;
    });
    return { ok: true, labels, rateLimit };
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.http.close();
  }
}

/** The message of an error answer, as OpenAI's client words it (`<status> <error.message>`). */
function errorMessage(status: number, json: unknown, text: string): string {
  const error = (json as { error?: unknown } | undefined)?.error;
  const message = (error as { message?: unknown } | undefined)?.message;
  const said =
    message !== undefined && message !== null && message !== ''
      ? typeof message === 'string'
        ? message
        : JSON.stringify(message)
      : error !== undefined && error !== null
        ? JSON.stringify(error)
        : json === undefined
          ? text
          : '';
  return said ? `${status} ${said}` : `${status} status code (no body)`;
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function retryAfterOf(headers: IncomingHttpHeaders): number | undefined {
  const raw = header(headers, 'retry-after-ms');
  const ms = Number(raw);
  return raw && Number.isFinite(ms) && ms >= 0 ? ms : parseRetryAfter(header(headers, 'retry-after'));
}

function rateLimitOf(headers: IncomingHttpHeaders): RateLimitHint | undefined {
  const remaining = header(headers, 'x-ratelimit-remaining-requests');
  if (remaining === null) return undefined;
  const limit = header(headers, 'x-ratelimit-limit-requests');
  return {
    ...(limit !== null ? { limitRequests: Number(limit) } : {}),
    remainingRequests: Number(remaining),
    resetRequestsMs: parseDuration(header(headers, 'x-ratelimit-reset-requests')),
  };
}
