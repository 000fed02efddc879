import type { ConnectionOptions } from 'bullmq';
import { ConfigError } from '@pipeline-invocation/core';

/** Connection settings from `REDIS_URL` (default `redis://127.0.0.1:6379`). */
export function redisConnection(url: string = process.env.REDIS_URL || 'redis://127.0.0.1:6379'): ConnectionOptions {
  const shown = url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:****@'); // never print its password
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL', shown, 'expected a URL such as redis://127.0.0.1:6379');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', shown, 'expected a URL starting with redis:// or rediss://');
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new ConfigError(
      'REDIS_URL',
      shown,
      `expected a database number after the host, not "${parsed.pathname.slice(1)}"`,
    );
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
