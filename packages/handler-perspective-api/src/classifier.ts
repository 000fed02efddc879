import http from 'node:http';
import https from 'node:https';
import { parseRetryAfter, type Classifier, type ClassifierAnswer } from '@pipeline-invocation/post-labelling';
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

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

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
 */
export class PerspectiveClassifier implements Classifier {
  readonly name = 'perspective_api';
  readonly batchSize = 1;
  private readonly target: URL;
  private readonly agent: http.Agent;

  constructor(private readonly options: PerspectiveClassifierOptions) {
    this.target = new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1alpha1/comments:analyze`);
    this.target.searchParams.set('key', options.apiKey);
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    this.agent = this.target.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  async score(texts: readonly string[], signal: AbortSignal): Promise<ClassifierAnswer> {
    const body = JSON.stringify({
      comment: { text: texts[0] },
      languages: ['en'],
      requestedAttributes: Object.fromEntries(this.options.attributes.map((a) => [a, {}])),
    });
    // One controller per request, unhooked in `finally`: AbortSignal.any() would leave a listener
    // on the run's signal for every request until garbage collection.
    const request = new AbortController();
    const onAbort = () => request.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort(new Error('request timeout'));
    }, this.options.requestTimeoutMs);
    let response: RawResponse;
    try {
      response = await this.post(body, request.signal);
    } catch (error) {
      signal.throwIfAborted();
      return {
        ok: false,
        reason: timedOut ? 'request_timeout' : `network_error: ${(error as Error).message}`,
        retryable: true,
      };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
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
    for (const [attribute, field] of ATTRIBUTES) {
      if (!this.options.attributes.includes(attribute)) {
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

  /** POST `body` over a kept-alive connection (node:http is far lighter than fetch at high rates). */
  private post(body: string, signal: AbortSignal): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = (this.target.protocol === 'https:' ? https : http).request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          signal,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}
