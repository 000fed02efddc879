// What the loopback servers of the classifier plugins' tests and benches share: a quota, scores,
// JSON answers (no test hooks here: the benches load it outside jest).
import { createHash } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A token bucket as an API's quota enforces it: `quotaPerSec` requests a second, a burst of a
 * tenth of a second. `take()` says whether a request is within the quota (always, without one).
 */
export function tokenBucket(quotaPerSec: number | undefined): { take(): boolean } {
  const burst = quotaPerSec ? Math.max(1, quotaPerSec / 10) : 0;
  let tokens = burst;
  let lastRefill = performance.now();
  return {
    take() {
      if (!quotaPerSec) return true;
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - lastRefill) / 1000) * quotaPerSec);
      lastRefill = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/** A deterministic score in [0, 1) for `label` of `text` (what the loopback servers answer). */
export function hashScore(text: string, label: string): number {
  return createHash('sha256').update(`${label}:${text}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Answer with a JSON body (nothing when the client already hung up). */
export function replyJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Listen on 127.0.0.1 at a free port, keeping a client's pooled connections open between
 * requests; `stop` ends the answers held back in `hanging`, then every connection, and closes.
 */
export async function listenOnLoopback(server: Server, hanging: ReadonlySet<ServerResponse> = new Set()) {
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
