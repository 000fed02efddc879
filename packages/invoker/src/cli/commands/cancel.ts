import { isTerminal, systemClock, type RunExecutionMetadata, type RunStore } from '@pipeline-invocation/core';
import { lifecycleConfig } from '../../config';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';
import { withRunLifecycle } from '../run-store';

const HELP = `Usage: pipeline cancel <run_id> [--wait] [--json]
       pipeline cancel <service>/<job id> [--json]

Ask a RUNNING run to stop, wherever it runs (another process, another machine): the request is
written to the run store, and the run's executor sees it at its next heartbeat
(PIPELINE_HEARTBEAT_MS, default 10 s), aborts the handler and records the run CANCELLED.
A run whose heartbeat is already stale (its process died) is recorded CRASHED at once.

A queued job (the handle enqueueInvocation returned, with @pipeline-invocation/worker installed)
that has not started is removed from its queue and never runs; a running one has its run asked
to stop as above.

Options:
  --wait        wait until the run has ended and print its final record
  --json        print the record as JSON
  -h, --help    show this help

Exit codes: 0 cancel requested (with --wait: the run ended), 2 no such run,
6 the run had already ended (its status is printed).
`;

/** `pipeline cancel <run_id>`. */
export async function cancel(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('cancel', args, {
    wait: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) return (void io.out(HELP), EXIT.OK);
  const [runId, ...extra] = positionals;
  if (!runId) throw new UsageError('missing <run_id>. Run `pipeline runs --status RUNNING` to see running runs.');
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"; cancel one run at a time.`);
  if (runId.includes('/')) return cancelQueuedJob(runId, io, values.json === true);
  const settings = lifecycleConfig(io.env);
  return withRunLifecycle(io, async (lifecycle) => {
    const { store } = lifecycle;
    const requested = await lifecycle.requestCancel(runId);
    if (!requested) {
      io.err(`pipeline cancel: no run "${runId}" in ${store.description}.\n`);
      return EXIT.INVALID_INPUT;
    }
    if (isTerminal(requested.status)) {
      print(io, requested, values.json, `run ${runId} had already ended ${requested.status}; nothing to cancel`);
      return EXIT.CONFLICT;
    }
    if (lifecycle.isStale(requested)) {
      // No executor is alive to see the request: its run is recorded CRASHED here (only while its
      // heartbeat is stale, so a run that ended or came back meanwhile keeps its own record).
      const outcome = await lifecycle.markCrashed(requested, {
        name: 'RunCrashed',
        body: 'The run stopped without finishing (its process was gone); `pipeline cancel` found no live process.',
      });
      const final = outcome.crashed ? outcome.record : ((await store.get(runId)) ?? requested);
      print(io, final, values.json, `run ${runId} had no live process: recorded ${final.status}`);
      return EXIT.OK;
    }
    if (!values.wait) {
      print(
        io,
        requested,
        values.json,
        `cancel requested for run ${runId}; it stops at its next heartbeat (within ${settings.heartbeatMs} ms) and is recorded CANCELLED`,
      );
      return EXIT.OK;
    }
    io.err(`pipeline cancel: cancel requested for run ${runId}; waiting for it to end\n`);
    const final = await waitForEnd(store, runId, settings.heartbeatMs + settings.cancelGraceMs + 5000);
    print(io, final, values.json, `run ${runId} ended ${final.status}`);
    return isTerminal(final.status) ? EXIT.OK : EXIT.HANDLER_FAILED;
  });
}

async function waitForEnd(store: RunStore, runId: string, timeoutMs: number): Promise<RunExecutionMetadata> {
  const deadline = systemClock.now() + timeoutMs;
  for (;;) {
    const record = (await store.get(runId))!;
    if (isTerminal(record.status) || systemClock.now() > deadline) return record;
    await systemClock.sleep(200);
  }
}

function print(io: Io, record: RunExecutionMetadata, json: boolean | undefined, message: string): void {
  if (json) io.out(`${JSON.stringify(record, null, 2)}\n`);
  else io.out(`${message}\n`);
}

/** `pipeline cancel <service>/<job id>`: the worker package's job cancel, found at run time. */
async function cancelQueuedJob(handle: string, io: Io, json: boolean): Promise<number> {
  let worker: { cancelJob: (handle: string, io: Io, json: boolean) => Promise<number> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    worker = require('@pipeline-invocation/worker/cli');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new UsageError(
      `"${handle}" is a queued job; cancelling jobs needs the worker package: npm install @pipeline-invocation/worker`,
    );
  }
  return worker.cancelJob(handle, io, json);
}
