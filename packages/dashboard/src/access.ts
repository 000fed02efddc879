import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The names a browser uses for this machine: a Host header naming anything else came through DNS. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Host names the dashboard binds to that only this machine reaches. */
export const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Whether a request's Host header names this machine (`localhost`, `127.0.0.1` or `[::1]`, with
 * or without a port). A page on another site that rebinds its own name to 127.0.0.1 (DNS
 * rebinding) still sends its own name as Host, so it is refused: it cannot read run records.
 */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const name = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase())?.[1];
  return name !== undefined && LOOPBACK_NAMES.has(name);
}

/**
 * The token a request carries, as the user wrote it: `?token=` (the query parser decoded it
 * once), `Authorization: Bearer` (a header is not URL-encoded: taken as is) or the cookie the
 * dashboard set (URL-encoded by the dashboard: decoded once). `undefined` when there is none or
 * the cookie's encoding is malformed (the request is then refused with 401, like a wrong token).
 */
export function givenToken(req: IncomingMessage, url: URL): string | undefined {
  const query = url.searchParams.get('token');
  if (query !== null) return query;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) return bearer;
  const cookie = /(?:^|;\s*)pipeline_dashboard=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (cookie === undefined) return undefined;
  try {
    return decodeURIComponent(cookie);
  } catch {
    return undefined; // a malformed escape is a wrong token, not a server error
  }
}

/**
 * Whether `given` is `token`, compared in constant time: both are hashed first, so neither the
 * content nor the length of the token shows in how long the answer takes.
 */
export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}
