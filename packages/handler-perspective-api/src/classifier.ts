import {
  JsonPost,
  failedRequest,
  parseRetryAfter,
  type Classifier,
  type ClassifierAnswer,
  type PostResponse,
} from '@pipeline-invocation/post-labelling';
import { ATTRIBUTES, type Attribute } from './attributes';

/** Settings of {@link PerspectiveClassifier}. */
export interface PerspectiveClassifierOptions {
  apiKey: string;
  /** Base URL; `/v1alpha1/comments:analyze` is appended. */
  baseUrl: string;
  /** Time limit of one request (ms). */
  requestTimeoutMs: number;
  /** The attributes to request (the others are written as null). */
  attributes: readonly Attribute[];
}

/**
 * The model string every Perspective label carries in `label_model`: the API and the version of
 * the attribute set (the original's 21 attributes, `prob_*` fields as in {@link ATTRIBUTES}).
 */
export const PERSPECTIVE_LABEL_MODEL = 'perspective_api/v1alpha1+attributes-2023';

/**
 * An answer saying the API is gone rather than refusing this request: 410; 404 (the endpoint is
 * no more); 403 naming a disabled or unknown service (Google's `SERVICE_DISABLED`, "has not been
 * used in project ... or it is disabled", "shut down").
 */
export function isEndOfLife(status: number, message: string): boolean {
  if (status === 410 || status === 404) return true;
  return (
    status === 403 &&
    /SERVICE_DISABLED|disabled|has not been used|shut ?down|no longer (available|supported)|unknown service/i.test(
      message,
    )
  );
}

/**
 * A {@link Classifier} over the Perspective `comments:analyze` endpoint (or a compatible service:
 * the base URL is configurable), one post per request, connections kept alive. It maps the
 * API's scores onto the original's `prob_*` fields; pacing and retries are the labelling
 * engine's.
 *
 * A run sends one request per post, so what a request costs is paid hundreds of thousands of
 * times: the JSON around the text is built once, and requests go through the engine's
 * {@link JsonPost} (kept-alive `node:http`, no listener of their own on the run's signal).
 */
export class PerspectiveClassifier implements Classifier {
  readonly name = 'perspective_api';
  readonly batchSize = 1;
  private readonly http: JsonPost;
  /** The body after the text: the languages and the requested attributes. */
  private readonly bodyEnd: string;
  /** Whether each of {@link ATTRIBUTES} (by position) is requested. */
  private readonly requested: readonly boolean[];

  constructor(private readonly options: PerspectiveClassifierOptions) {
    const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1alpha1/comments:analyze`);
    url.searchParams.set('key', options.apiKey);
    this.http = new JsonPost(url, {
      timeoutMs: options.requestTimeoutMs,
      headers: { 'content-type': 'application/json' },
    });
    const requestedAttributes = Object.fromEntries(options.attributes.map((a) => [a, {}]));
    this.bodyEnd = `,"languages":["en"],"requestedAttributes":${JSON.stringify(requestedAttributes)}}`;
    this.requested = ATTRIBUTES.map(([attribute]) => options.attributes.includes(attribute));
  }

  async score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer> {
    // the same JSON as JSON.stringify({ comment: { text }, languages, requestedAttributes })
    const body = `{"comment":{"text":${JSON.stringify(texts[0])}}${this.bodyEnd}`;
    let response: PostResponse;
    try {
      response = await this.http.send(body, signal);
    } catch (error) {
      return failedRequest(error, signal);
    }
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      json = undefined;
    }
    if (response.status >= 200 && response.status < 300) return this.labelOf(json);
    const error = (json as { error?: { message?: string; status?: string } } | undefined)?.error;
    const message = error?.message ?? `HTTP ${response.status}`;
    const retryable = response.status === 429 || response.status >= 500;
    return {
      ok: false,
      reason: `perspective_api_${response.status}: ${message}`,
      retryable,
      gone: isEndOfLife(response.status, `${error?.status ?? ''} ${message}`),
      retryAfterMs: retryable ? parseRetryAfter(headerValue(response.headers['retry-after'])) : undefined,
    };
  }

  /** The output fields of one answer: every `prob_*` (null when not requested) and `label_model`. */
  private labelOf(json: unknown): ClassifierAnswer {
    const attributeScores = (
      json as { attributeScores?: Record<string, { summaryScore?: { value?: unknown } }> } | undefined
    )?.attributeScores;
    const label: Record<string, unknown> = {};
    for (let i = 0; i < ATTRIBUTES.length; i++) {
      const [attribute, field] = ATTRIBUTES[i]!;
      if (!this.requested[i]) {
        label[field] = null;
        continue;
      }
      const value = attributeScores?.[attribute]?.summaryScore?.value;
      if (typeof value !== 'number') {
        return { ok: false, reason: `perspective_api_response: no score for ${attribute}`, retryable: false };
      }
      label[field] = value;
    }
    label.prob_constructive = label.prob_reasoning;
    label.label_model = PERSPECTIVE_LABEL_MODEL;
    return { ok: true, labels: [label] };
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.http.close();
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}
