import { createRequire } from 'node:module';
import { createInvoker } from '@pipeline-invocation/invoker';
import { UsageError, parseCommandArgs, type Io } from '@pipeline-invocation/invoker/cli';
import { createRunStore, storageConfigFromEnv } from '@pipeline-invocation/storage';
import { startDashboard, type DashboardSchedule } from './server';

/** `pipeline dashboard --help`. */
export const HELP = `Usage: pipeline dashboard [--port 4280] [--host 127.0.0.1]

Serve the run dashboard of the configured store (SQLite or DynamoDB; it never writes): the
services with their last run, success rates, runs per day and durations; each service's runs;
each run's record; the schedules (with @pipeline-invocation/worker and Redis). New runs appear
without a reload. Stop it with Ctrl-C.

On loopback (127.0.0.1, localhost or ::1) it needs no token and answers only requests whose
Host names this machine. Any other host needs PIPELINE_DASHBOARD_TOKEN: without it the
dashboard does not start; with it every request must carry it (open
http://HOST:PORT/?token=... once).
`;

/** `pipeline dashboard`. */
export async function dashboard(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('dashboard', args, { port: { type: 'string' }, host: { type: 'string' } });
  if (values.help) return (void io.out(HELP), 0);
  const port = values.port === undefined ? 4280 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number (got "${values.port}").`);
  const invoker = createInvoker({ env: io.env });
  const store = await createRunStore(storageConfigFromEnv(io.env, io.cwd));
  let running;
  try {
    running = await startDashboard({
      store,
      host: values.host ?? '127.0.0.1',
      port,
      token: io.env.PIPELINE_DASHBOARD_TOKEN || undefined,
      schedules: schedulesOf(io, invoker.listServices()),
    });
  } catch (error) {
    await store.close();
    throw error; // core's ConfigError (a host off loopback without a token): exit code 2
  }
  io.out(`Dashboard of ${store.description} at ${running.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  await store.close();
  await invoker.close();
  return 0;
}

/** The worker's schedules, when it is installed (found at run time) and Redis answers. */
function schedulesOf(io: Io, services: string[]): (() => Promise<DashboardSchedule[]>) | undefined {
  let worker: typeof import('@pipeline-invocation/worker');
  try {
    // optional, found at run time
    worker = createRequire(__filename)('@pipeline-invocation/worker');
  } catch {
    return undefined;
  }
  const connection = worker.redisConnection(io.env.REDIS_URL || undefined);
  return async () => {
    if (!(await worker.redisAnswers(connection, 1000))) return [];
    const schedules = new worker.Schedules(connection);
    try {
      return await schedules.list(services);
    } finally {
      await schedules.close();
    }
  };
}
