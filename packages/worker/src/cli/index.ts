import { createInvoker } from '@pipeline-invocation/invoker';
import { UsageError, parseCommandArgs, table, type Io } from '@pipeline-invocation/invoker/cli';
import { InvocationQueue } from '../invocation-queue';
import { redisConnection } from '../config';
import { startWorker } from '../worker';

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
