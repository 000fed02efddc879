import { createInvoker, startTelemetry } from '@pipeline-invocation/invoker';
import { describe, type JsonObject } from '@pipeline-invocation/core';
import {
  UsageError,
  parseCommandArgs,
  parseDurationFlag,
  parseJsonOption,
  table,
  type Io,
} from '@pipeline-invocation/invoker/cli';
import { ScheduleError, Schedules, redisAnswers } from '../schedules';
import { InvocationQueue } from '../invocation-queue';
import { redisConnection } from '../config';
import { startWorker } from '../worker';
import { cancelQueuedJob } from '../cancel-job';

const WORKER_HELP = `Usage: pipeline worker [--concurrency N] [--services a,b] [--drain-timeout ms]

Run queued invocations (BullMQ on Redis at REDIS_URL, default redis://127.0.0.1:6379) with this
project's installed handler plugins, until SIGTERM or SIGINT: then stop taking jobs, finish the
ones in hand (at most --drain-timeout ms, default 30000) and exit 0.

Options:
  --concurrency N      jobs at once per service (default 1)
  --services a,b       serve only these services (default: all installed)
  --drain-timeout ms   how long to wait for jobs in hand on shutdown
  -h, --help           show this help

A worker killed without warning leaves its job to another worker once its lock expires
(PIPELINE_WORKER_LOCK_MS, default 30000).
`;

const QUEUE_HELP = `Usage: pipeline queue stats [--services a,b] [--json]

Show waiting, active, completed, failed and delayed job counts of each service queue.
`;

const splitList = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number (got "${value}")`);
  return n;
}

/** `pipeline worker`. */
export async function worker(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('worker', args, {
    concurrency: { type: 'string' },
    services: { type: 'string' },
    'drain-timeout': { type: 'string' },
  });
  if (values.help) return (void io.out(WORKER_HELP), 0);
  const concurrency = positiveInt('--concurrency', values.concurrency, 1);
  const drainMs = positiveInt('--drain-timeout', values['drain-timeout'], 30_000);
  const services = typeof values.services === 'string' ? splitList(values.services) : undefined;
  // Listen before starting: BullMQ takes jobs as soon as the worker exists, and a signal
  // arriving before we listen would kill the process mid-job.
  const signal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const invoker = createInvoker({ env: io.env });
  const telemetry = await startTelemetry(io.env, { logger: invoker.logger });
  const lockMs = positiveInt('PIPELINE_WORKER_LOCK_MS', io.env.PIPELINE_WORKER_LOCK_MS || undefined, 30_000);
  const running = await startWorker({
    invoker,
    concurrency,
    services,
    connection: redisConnection(io.env.REDIS_URL || undefined),
    lockDurationMs: lockMs,
    stalledIntervalMs: lockMs,
  });
  const received = await signal;
  invoker.logger.info(`${received}: no new jobs; finishing the ones in hand (at most ${drainMs} ms)`);
  process.once(received, () => process.exit(130)); // a second signal: stop now
  await running.close(drainMs);
  await invoker.close();
  await telemetry.shutdown();
  return 0;
}

/** `pipeline queue stats`. */
export async function queue(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('queue', args, {
    services: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return (void io.out(QUEUE_HELP), 0);
  if (positionals[0] !== 'stats' || positionals.length > 1)
    throw new UsageError('the only queue command is `pipeline queue stats`.');
  const services =
    typeof values.services === 'string' ? splitList(values.services) : createInvoker({ env: io.env }).listServices();
  const client = new InvocationQueue(redisConnection(io.env.REDIS_URL || undefined));
  try {
    const counts = await client.stats(services);
    if (values.json) {
      io.out(`${JSON.stringify(counts, null, 2)}\n`);
    } else {
      io.out(
        table([
          ['SERVICE', 'WAITING', 'ACTIVE', 'COMPLETED', 'FAILED', 'DELAYED'],
          ...counts.map((c) => [c.service, c.waiting, c.active, c.completed, c.failed, c.delayed].map(String)),
        ]),
      );
    }
    return 0;
  } finally {
    await client.close();
  }
}

const SCHEDULE_HELP = `Usage: pipeline schedule add <service> (--cron "<expr>" [--tz ZONE] | --every <duration>)
                             [--now] [--payload JSON|@file] [--id NAME] [--json]
       pipeline schedule list [--json]
       pipeline schedule remove <id> [--json]

Run a service on a schedule: kept as a BullMQ job scheduler in Redis (REDIS_URL, default
redis://127.0.0.1:6379), so any running \`pipeline worker\` serving the service runs it. Each run's
record carries schedule_id. While no worker runs, missed ticks do not pile up (one run when a
worker comes back); a tick while the schedule's previous run is still RUNNING starts no run.

add      --cron "<expr>"  5 fields (minute hour day month weekday), e.g. "0 3 * * *"
         --tz ZONE        the cron expression's time zone (default UTC), e.g. Europe/Berlin
         --every D        a fixed interval: 30s, 5m, 1h (at least 1s); the first run comes one
                          interval after the schedule is added
         --now            also run once right away (then on the cron or interval)
         --payload        the handler payload, checked against its schema now (default {})
         --id NAME        the schedule's id (default <service>-<timing>); the same id replaces it
list     every schedule of the installed services, with its next run time
remove   remove a schedule by id

Exit codes: 0 done, 2 bad input (cron, interval, unknown service, payload, Redis unreachable),
1 remove found no such schedule.
`;

/** `pipeline schedule add | list | remove`. */
export async function schedule(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('schedule', args, {
    cron: { type: 'string' },
    tz: { type: 'string' },
    every: { type: 'string' },
    now: { type: 'boolean' },
    payload: { type: 'string' },
    id: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return (void io.out(SCHEDULE_HELP), 0);
  const [action, target, ...rest] = positionals;
  const arity = { add: 1, list: 0, remove: 1 } as const;
  if (
    !action ||
    !(action in arity) ||
    (target === undefined) !== (arity[action as keyof typeof arity] === 0) ||
    rest.length
  )
    throw new UsageError(
      'use `pipeline schedule add <service> ...`, `pipeline schedule list` or `pipeline schedule remove <id>`.',
    );
  const invoker = createInvoker({ env: io.env });
  const connection = redisConnection(io.env.REDIS_URL || undefined);
  const where = io.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(connection)))
    throw new UsageError(
      `cannot reach Redis at ${where.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:****@')}: start it, or set REDIS_URL to yours.` +
        ('tls' in connection
          ? " Over TLS (rediss://) Node must trust the server's certificate: a private CA's goes in NODE_EXTRA_CA_CERTS."
          : ''),
    );
  const schedules = new Schedules(connection);
  try {
    if (action === 'add') {
      const service = target!;
      const payload = parseJsonOption('--payload', values.payload, io.cwd) as JsonObject;
      try {
        await invoker.checkRequest(service, payload);
      } catch (error) {
        // an unknown service or a refused payload is bad input here: nothing was scheduled
        throw new UsageError(describe(error));
      }
      let added;
      try {
        added = await schedules.add({
          service,
          payload,
          id: values.id,
          cron: values.cron,
          tz: values.tz,
          everyMs: values.every === undefined ? undefined : parseDurationFlag('--every', values.every),
          now: values.now ?? false,
        });
      } catch (error) {
        if (error instanceof ScheduleError) throw new UsageError(error.message);
        throw error;
      }
      if (values.json) io.out(`${JSON.stringify(added, null, 2)}\n`);
      else {
        // the interval as the user wrote it (`every 1h`), not as stored (ms)
        const when = values.every === undefined ? timing(added) : `every ${values.every.trim()}`;
        io.out(`Schedule ${added.id}: ${service} ${when}; next run ${added.next_run_at ?? 'soon'}.\n`);
      }
      return 0;
    }
    const services = invoker.listServices();
    if (action === 'list') {
      const all = await schedules.list(services);
      if (values.json) io.out(`${JSON.stringify(all, null, 2)}\n`);
      else if (all.length === 0) io.err('No schedules.\n');
      else
        io.out(
          table([
            ['ID', 'SERVICE', 'WHEN', 'NEXT RUN', 'PAYLOAD'],
            ...all.map((s) => [s.id, s.service, timing(s), s.next_run_at ?? '-', JSON.stringify(s.payload)]),
          ]),
        );
      return 0;
    }
    const removed = await schedules.remove(target!, services);
    if (values.json) io.out(`${JSON.stringify({ id: target, removed })}\n`);
    else if (removed) io.out(`Removed schedule ${target}.\n`);
    else io.err(`No schedule ${target} (see \`pipeline schedule list\`).\n`);
    return removed ? 0 : 1;
  } finally {
    await schedules.close();
    await invoker.close();
  }
}

function timing(s: { cron?: string; tz?: string; every_ms?: number }): string {
  if (s.cron) return `cron "${s.cron}"${s.tz ? ` (${s.tz})` : ''}`;
  return `every ${interval(s.every_ms ?? 0)}`;
}

/** An interval in the largest unit that holds it whole, as `--every` takes it: 1h, 90m, 45s. */
export function interval(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * `pipeline cancel <service>/<job id>` (the invoker's cancel command hands job handles here):
 * a job not yet started is removed from its queue; a running one has its run asked to stop.
 * Exit codes as `pipeline cancel`: 0 done, 2 no such job, 6 it had already ended.
 */
export async function cancelJob(handle: string, io: Io, json: boolean): Promise<number> {
  const invoker = createInvoker({ env: io.env });
  const client = new InvocationQueue(redisConnection(io.env.REDIS_URL || undefined));
  try {
    const result = await cancelQueuedJob(client, await invoker.runLifecycle(), handle);
    if (json) io.out(`${JSON.stringify({ job: handle, ...result }, null, 2)}\n`);
    else if (result.outcome === 'removed')
      io.out(`job ${handle} was ${result.state}: removed from its queue; it will not run\n`);
    else if (result.outcome === 'cancel-requested')
      io.out(
        `job ${handle} is running as run ${result.run.run_id}: cancel requested; it stops at its next heartbeat\n`,
      );
    else if (result.outcome === 'starting')
      io.out(`job ${handle} is being started by a worker; run \`pipeline cancel ${handle}\` again in a moment\n`);
    else if (result.outcome === 'finished')
      io.out(`job ${handle} had already ${result.state === 'failed' ? 'failed' : 'completed'}; nothing to cancel\n`);
    else io.err(`pipeline cancel: no job ${handle} in Redis\n`);
    return result.outcome === 'unknown' ? 2 : result.outcome === 'finished' ? 6 : 0;
  } finally {
    await client.close();
    await invoker.close();
  }
}
