import http from 'node:http';
import https from 'node:https';
import type { ClassifierAnswer } from '../classifier';
import { AbortWatch } from './abort-watch';

/** An answer read whole: its status, headers and body text. */
export interface PostResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Options of {@link JsonPost}. */
export interface JsonPostOptions {
  /** The longest one request may take (ms); past it the request is destroyed. */
  timeoutMs: number;
  /** Headers of every request, but the body's length (added per request). */
  headers: Readonly<Record<string, string>>;
}

/** What a request that outlived its time limit is destroyed with. */
const TIMED_OUT = new Error('request timeout');

/**
 * POSTs bodies to one URL over kept-alive connections (`node:http` / `node:https`): what the
 * classifiers over HTTP APIs share. A run sends hundreds of thousands of requests, so a request
 * costs as little as it can: the request options are built once, and a request is ended by
 * destroying it (its time limit, or the run aborted, heard through the run signal's
 * {@link AbortWatch}) rather than through an `AbortController` and a listener of its own (a
 * listener per request on the run's signal kept every request's garbage alive: see the README's
 * "Memory"). `node:http` rather than `fetch`: `fetch` costs several times the memory per request.
 */
export class JsonPost {
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  /** Everything of a request but its headers (the body length varies). */
  private readonly target: http.RequestOptions;

  constructor(
    url: URL,
    private readonly options: JsonPostOptions,
  ) {
    const secure = url.protocol === 'https:';
    this.transport = secure ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.target = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), // an IPv6 literal without its brackets
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: this.agent,
    };
  }

  /**
   * POST `body`; resolves with the answer, whatever its status. Rejects with the run's abort
   * reason when `signal` aborts, and otherwise (no answer: the time limit, the network) with an
   * error that {@link failedRequest} turns into a retryable answer.
   */
  send(body: string, signal: AbortSignal): Promise<PostResponse> {
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const req = this.transport.request(
        { ...this.target, headers: { ...this.options.headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            done();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
          });
          res.on('error', fail);
        },
      );
      const fail = (error: unknown) => {
        done();
        reject(error);
      };
      const timer = setTimeout(() => req.destroy(TIMED_OUT), this.options.timeoutMs);
      const watch = AbortWatch.of(signal);
      const slot = watch.add((reason) => req.destroy(reason as Error));
      const done = () => {
        clearTimeout(timer);
        watch.remove(slot);
      };
      req.on('error', fail);
      req.end(body);
    });
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * The answer for a request {@link JsonPost.send} rejected: the run's abort is thrown on; the time
 * limit is `request_timeout`, anything else `network_error: <message>`; both retryable.
 */
export function failedRequest(error: unknown, signal: AbortSignal): ClassifierAnswer {
  signal.throwIfAborted();
  return {
    ok: false,
    reason: error === TIMED_OUT ? 'request_timeout' : `network_error: ${(error as Error).message}`,
    retryable: true,
  };
}
