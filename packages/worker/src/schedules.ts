import { connect } from 'node:net';
import { connect as connectTls, type ConnectionOptions as TlsOptions } from 'node:tls';
import { Queue, type ConnectionOptions } from 'bullmq';
import { parseExpression } from 'cron-parser';
import type { JsonObject } from '@pipeline-invocation/core';
import { QUEUE_PREFIX, queueName, redisConnection } from './config';
import type { InvocationJobData } from './job';

/** A schedule to add: a cron expression (with an optional time zone) or a fixed interval. */
export interface ScheduleSpec {
  service: string;
  /** The schedule's id (default `<service>-<cron or interval>`); adding an id again replaces it. */
  id?: string;
  /** A cron expression (5 fields, or 6 with seconds), e.g. `0 3 * * *`. */
  cron?: string;
  /** The IANA time zone the cron expression is read in (default UTC), e.g. `Europe/Berlin`. */
  tz?: string;
  /** A fixed interval (ms). The first run comes one interval after the schedule is added, unless `now`. */
  everyMs?: number;
  /**
   * Also run once right away (default false). Without it an interval schedule first runs one
   * interval after it is added, and a cron schedule at its next matching time.
   */
  now?: boolean;
  /** The handler payload of each run (default `{}`). */
  payload?: JsonObject;
}

/** A schedule as stored in Redis. */
export interface ScheduleInfo {
  id: string;
  service: string;
  cron?: string;
  tz?: string;
  every_ms?: number;
  payload: JsonObject;
  /** When the next run is due (ISO), if Redis knows. */
  next_run_at?: string;
}

/** Raised for a schedule that cannot be used: a bad cron expression, time zone or interval. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/**
 * Check a spec; returns the BullMQ repeat options. BullMQ runs an `every` scheduler at once
 * unless it has a start date, so an interval schedule gets `startDate` = `nowMs` + the interval
 * (its first run one interval later) unless `spec.now`; a cron schedule with `spec.now` gets
 * `immediately` (one run at once, then the pattern).
 */
export function repeatOptionsOf(
  spec: ScheduleSpec,
  nowMs: number = Date.now(),
): { pattern: string; tz?: string; immediately?: true } | { every: number; startDate?: number } {
  if ((spec.cron === undefined) === (spec.everyMs === undefined))
    throw new ScheduleError('give either a cron expression (--cron) or an interval (--every), not both or neither');
  if (spec.everyMs !== undefined) {
    if (!Number.isInteger(spec.everyMs) || spec.everyMs < 1000)
      throw new ScheduleError('the interval must be at least 1s');
    if (spec.tz) throw new ScheduleError('--tz goes with --cron only');
    return spec.now ? { every: spec.everyMs } : { every: spec.everyMs, startDate: nowMs + spec.everyMs };
  }
  if (spec.tz) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: spec.tz });
    } catch {
      throw new ScheduleError(`"${spec.tz}" is not a time zone; use an IANA name such as Europe/Berlin or UTC`);
    }
  }
  const fields = spec.cron!.trim().split(/\s+/).length;
  try {
    if (fields < 5 || fields > 6) throw new Error(`it has ${fields} fields`);
    parseExpression(spec.cron!, { tz: spec.tz });
  } catch (error) {
    throw new ScheduleError(
      `"${spec.cron}" is not a cron expression (${(error as Error).message}); write 5 fields (minute hour day month weekday), e.g. "0 3 * * *"`,
    );
  }
  return {
    pattern: spec.cron!.trim(),
    ...(spec.tz ? { tz: spec.tz } : {}),
    ...(spec.now ? { immediately: true } : {}),
  };
}

/** The default id of a schedule: its service and timing, in characters any id may hold. */
export function defaultScheduleId(spec: ScheduleSpec): string {
  const timing =
    spec.cron !== undefined ? `cron-${spec.cron}${spec.tz ? `-${spec.tz}` : ''}` : `every-${spec.everyMs}ms`;
  return `${spec.service}-${timing}`.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/**
 * Schedules of invocations, kept as BullMQ job schedulers on each service's queue in Redis, so
 * any running `pipeline worker` that serves the service runs them. A scheduler keeps one job at a
 * time: while no worker runs, missed ticks do not pile up (one run when a worker comes back).
 * Close it when done.
 */
export class Schedules {
  private readonly queues = new Map<string, Queue<InvocationJobData>>();

  /**
   * @param connection Redis (default `REDIS_URL` or 127.0.0.1:6379).
   * @param options.now The clock an interval schedule's first run is counted from (ms since the epoch).
   */
  constructor(
    readonly connection: ConnectionOptions = redisConnection(),
    private readonly options: { now?: () => number } = {},
  ) {}

  /**
   * Add (or replace) a schedule. Check the service and payload first (e.g. with the invoker's
   * `checkRequest`): this only checks the timing.
   *
   * @throws ScheduleError for a bad cron expression, time zone or interval.
   */
  async add(spec: ScheduleSpec): Promise<ScheduleInfo> {
    const repeat = repeatOptionsOf(spec, (this.options.now ?? Date.now)());
    const id = spec.id ?? defaultScheduleId(spec);
    if (!/^[A-Za-z0-9_.-]{1,200}$/.test(id))
      throw new ScheduleError(`the id "${id}" may hold letters, digits, "_", "." and "-" only`);
    const data: InvocationJobData = {
      request: { service: spec.service, payload: spec.payload ?? {}, metadata: {} },
      scheduleId: id,
    };
    await this.queue(spec.service).upsertJobScheduler(id, repeat, {
      name: spec.service,
      data,
      // a scheduled run is not retried: the next tick comes anyway
      opts: { attempts: 1, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 } },
    });
    return (await this.find(id, [spec.service]))!;
  }

  /** Every schedule of `services`, soonest first. */
  async list(services: readonly string[]): Promise<ScheduleInfo[]> {
    const all = await Promise.all(
      services.map(async (service) =>
        (await this.queue(service).getJobSchedulers(0, -1, true)).map((s) => {
          const data = s.template?.data as InvocationJobData | undefined;
          return {
            id: s.key,
            service,
            ...(s.pattern ? { cron: s.pattern } : {}),
            ...(s.tz ? { tz: s.tz } : {}),
            ...(s.every ? { every_ms: Number(s.every) } : {}),
            payload: (data?.request.payload ?? {}) as JsonObject,
            ...(s.next ? { next_run_at: new Date(Number(s.next)).toISOString() } : {}),
          } satisfies ScheduleInfo;
        }),
      ),
    );
    return all.flat().sort((a, b) => (a.next_run_at ?? '').localeCompare(b.next_run_at ?? ''));
  }

  /** Remove the schedule `id` from whichever of `services` holds it; false when none does. */
  async remove(id: string, services: readonly string[]): Promise<boolean> {
    let removed = false;
    for (const service of services) removed = (await this.queue(service).removeJobScheduler(id)) || removed;
    return removed;
  }

  private async find(id: string, services: readonly string[]): Promise<ScheduleInfo | undefined> {
    return (await this.list(services)).find((s) => s.id === id);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }

  private queue(service: string): Queue<InvocationJobData> {
    let queue = this.queues.get(service);
    if (!queue) {
      queue = new Queue<InvocationJobData>(queueName(service), { connection: this.connection, prefix: QUEUE_PREFIX });
      this.queues.set(service, queue);
    }
    return queue;
  }
}

/**
 * Whether Redis answers at `connection` within `timeoutMs` (a TCP connection, over TLS when the
 * connection has `tls` options as a `rediss://` URL gives, and a PING; an answer asking for a
 * password counts). Commands on a BullMQ connection wait for Redis forever, so a CLI asks first
 * and says what is wrong. A server that closes the connection without an answer is no Redis
 * either, nor is one whose TLS certificate Node does not trust (BullMQ's connection would fail
 * the same way).
 */
export function redisAnswers(connection: ConnectionOptions, timeoutMs = 2000): Promise<boolean> {
  const { host = '127.0.0.1', port = 6379, tls } = connection as { host?: string; port?: number; tls?: TlsOptions };
  return new Promise((resolve) => {
    // over TLS as BullMQ's client (ioredis) connects: its tls options, the host as the server name
    const socket = tls ? connectTls({ ...tls, host, port }) : connect({ host, port });
    // A timer of our own, not socket.setTimeout: that one does not keep the process alive and
    // stops with the socket, so a server that closed the connection without answering left the
    // promise unsettled and the CLI ended with nothing done, nothing said and exit code 0.
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.once('error', () => done(false));
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString())));
    socket.once('close', () => done(false)); // (after an answer, the promise is settled already)
  });
}
