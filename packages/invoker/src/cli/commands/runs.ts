import {
  RunStatusSchema,
  heartbeatMsOf,
  systemClock,
  type RunExecutionMetadata,
  type RunStatus,
} from '@pipeline-invocation/core';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, table, type Io } from '../io';
import { withRunLifecycle, withRunStore } from '../run-store';
import { parseDurationFlag } from '../duration';

const RUNS_HELP = `Usage: pipeline runs [--service S] [--status S] [--limit N] [--cursor C] [--json]
       pipeline runs prune --older-than 90d [--keep-failed] [--dry-run] [--json]

Show run history from the configured store, newest first. A RUNNING run shows how long ago
its heartbeat was renewed: older than PIPELINE_STALE_AFTER_MS (default 60 s) means its process
died, and the next run with its idempotency key marks it CRASHED.

Options:
  --service S   only runs of this service
  --status S    only runs with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, CRASHED)
  --limit N     at most N runs (1-1000, default 20)
  --cursor C    continue after a previous page (printed as "next page: --cursor C")
  --json        print {items, nextCursor} as JSON
  -h, --help    show this help
`;

const PRUNE_HELP = `Usage: pipeline runs prune --older-than <duration> [--keep-failed] [--dry-run] [--json]

Remove finished runs that started longer ago than <duration> (30m, 12h, 90d; 0d takes every
finished run) from the configured store, and say how many. A RUNNING run is never removed. A
removed run's idempotency key is free again.

Options:
  --older-than D   the age, a whole number with s, m, h or d
  --keep-failed    keep the runs that did not succeed (FAILED, TIMED_OUT, CANCELLED, CRASHED)
  --dry-run        count what would be removed, remove nothing
  --json           print {removed, dry_run, before} as JSON
  -h, --help       show this help
`;

const SHOW_HELP = `Usage: pipeline show <run_id> [--json]

Show one run's full record.
`;

/** `pipeline runs` and `pipeline runs prune`. */
export async function runs(args: string[], io: Io): Promise<number> {
  if (args[0] === 'prune') return prune(args.slice(1), io);
  const { values } = parseCommandArgs(
    'runs',
    args,
    {
      service: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  if (values.help) return (void io.out(RUNS_HELP), EXIT.OK);
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit must be a whole number from 1 to 1000 (got "${values.limit}").`);
  }
  let status: RunStatus | undefined;
  if (values.status !== undefined) {
    const parsed = RunStatusSchema.safeParse(values.status.toUpperCase());
    if (!parsed.success)
      throw new UsageError(`--status must be one of ${RunStatusSchema.options.join(', ')} (got "${values.status}").`);
    status = parsed.data;
  }
  return withRunStore(io, async (store) => {
    const page = await store.list({ service: values.service, status, limit, cursor: values.cursor });
    if (values.json) {
      io.out(`${JSON.stringify(page, null, 2)}\n`);
    } else if (page.items.length === 0) {
      io.err(`No runs found in ${store.description}.\n`);
    } else {
      io.out(
        table([
          ['RUN ID', 'SERVICE', 'STATUS', 'CODE', 'STARTED', 'DURATION', 'HEARTBEAT'],
          ...page.items.map((r) => [
            r.run_id,
            r.service,
            r.status,
            r.status === 'RUNNING' ? '-' : String(r.status_code),
            r.started_at,
            duration(r),
            heartbeatAge(r),
          ]),
        ]),
      );
      if (page.nextCursor) io.err(`next page: --cursor ${page.nextCursor}\n`);
    }
    return EXIT.OK;
  });
}

/** `pipeline runs prune`. */
async function prune(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(
    'runs prune',
    args,
    {
      'older-than': { type: 'string' },
      'keep-failed': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    false,
  );
  if (values.help) return (void io.out(PRUNE_HELP), EXIT.OK);
  if (values['older-than'] === undefined) throw new UsageError('--older-than is required, e.g. --older-than 90d.');
  const age = parseDurationFlag('--older-than', values['older-than'], { allowZero: true });
  const before = new Date(systemClock.now() - age).toISOString();
  const dryRun = values['dry-run'] === true;
  return withRunLifecycle(io, async (lifecycle) => {
    const { store } = lifecycle;
    if (!store.prune) throw new UsageError(`${store.description} cannot be pruned.`);
    const { removed } = await lifecycle.prune({ before, keepFailed: values['keep-failed'] === true, dryRun });
    if (values.json) io.out(`${JSON.stringify({ removed, dry_run: dryRun, before })}\n`);
    else
      io.out(
        `${dryRun ? 'Would remove' : 'Removed'} ${removed} finished run(s) started before ${before} from ${store.description}.\n`,
      );
    return EXIT.OK;
  });
}

/** `pipeline show <run_id>`. */
export async function show(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('show', args, { json: { type: 'boolean' } });
  if (values.help) return (void io.out(SHOW_HELP), EXIT.OK);
  const [runId] = positionals;
  if (!runId) throw new UsageError('missing <run_id>. Run `pipeline runs` to see run ids.');
  return withRunStore(io, async (store) => {
    const record = await store.get(runId);
    if (!record) {
      io.err(`pipeline show: no run "${runId}" in ${store.description}.\n`);
      return EXIT.INVALID_INPUT;
    }
    if (values.json) {
      io.out(`${JSON.stringify(record, null, 2)}\n`);
    } else {
      io.out(
        table(
          Object.entries(record).map(([key, value]) => [
            key,
            typeof value === 'string' ? value : JSON.stringify(value),
          ]),
        ),
      );
    }
    return EXIT.OK;
  });
}

/** How long ago a RUNNING run's heartbeat was renewed ("-" for ended runs). */
function heartbeatAge(record: RunExecutionMetadata): string {
  if (record.status !== 'RUNNING') return '-';
  const ageMs = systemClock.now() - heartbeatMsOf(record);
  return `${Math.max(0, Math.round(ageMs / 1000))} s ago`;
}

function duration(record: RunExecutionMetadata): string {
  return record.duration_ms === undefined ? '-' : `${record.duration_ms} ms`;
}
