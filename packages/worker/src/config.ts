import type { ConnectionOptions } from 'bullmq';

/** Connection settings from `REDIS_URL` (default `redis://127.0.0.1:6379`). */
export function redisConnection(url: string = process.env.REDIS_URL || 'redis://127.0.0.1:6379'): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`REDIS_URL must be a URL such as redis://127.0.0.1:6379 (got "${url}")`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`REDIS_URL must start with redis:// or rediss:// (got "${parsed.protocol}//")`);
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new TypeError(`REDIS_URL names database "${parsed.pathname.slice(1)}": it must be a number`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers need this: a command waits for Redis to come back instead of failing.
    maxRetriesPerRequest: null,
  };
}

/** Key prefix of every queue in Redis. */
export const QUEUE_PREFIX = 'pipeline';

/** The queue of one service: one queue per service, so a worker can serve a subset. */
export const queueName = (service: string) => service;
