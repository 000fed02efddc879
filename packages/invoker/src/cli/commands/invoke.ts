import { RunCancelledError, type RunExecutionMetadata } from '@pipeline-invocation/core';
import { createInvoker } from '../../invoker';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';
import { parseJsonOption } from '../json-option';
import { missingNodeOptions } from '../node-options';
import { startTelemetry } from '@pipeline-invocation/observability';
import { ProgressBar, ProgressLog, type ProgressReporter } from '../progress';

const HELP = `Usage: pipeline invoke <service> [--payload JSON|@file] [--metadata JSON|@file] [--timeout ms] [--idempotency-key KEY] [--json]

Run one invocation of <service>, record it in the run store, and print its record.

Options:
  --payload JSON|@file    the handler payload (default {}), inline or from a file
  --metadata JSON|@file   request metadata (its request_id is the default idempotency key)
  --timeout ms            abort the handler after this many milliseconds (run recorded TIMED_OUT)
  --idempotency-key KEY   a successful run with this key and payload is returned ("replayed")
                          instead of run again; the same key with another payload is refused
  --json                  print the whole record as JSON on stdout
  -h, --help              show this help

Examples:
  pipeline invoke ml_inference_perspective_api --payload '{"run_type":"prod"}'
  pipeline invoke ml_inference_perspective_api --payload @backfill.json --json

Ctrl-C (SIGINT) or SIGTERM cancels the run: the handler's signal aborts, it gets
PIPELINE_CANCEL_GRACE_MS (default 10 s) to settle, the run is recorded CANCELLED and the
command exits 130 / 143. A second signal records it at once.

Exit codes: 0 succeeded, 1 handler failed, timed out or was cancelled, 2 invalid input,
3 unknown service, 4 storage failure, 5 plugin failure, 6 idempotency conflict,
130 interrupted (SIGINT), 143 stopped (SIGTERM).
`;

const SIGNAL_EXIT = { SIGINT: EXIT.SIGINT, SIGTERM: EXIT.SIGTERM } as const;

/**
 * Turn SIGINT / SIGTERM into a cancellation of the run (first signal) and an end to the grace
 * period (second signal), for as long as `invoke` runs.
 */
function cancelOnSignals(io: Io, graceMs: number) {
  const cancel = new AbortController();
  const force = new AbortController();
  let received: keyof typeof SIGNAL_EXIT | undefined;
  const on = (signal: keyof typeof SIGNAL_EXIT) => {
    if (received) {
      io.err(`pipeline invoke: ${signal} again: recording the run CANCELLED now\n`);
      force.abort();
      return;
    }
    received = signal;
    io.err(
      `pipeline invoke: ${signal} received: cancelling the run (the handler has ${graceMs} ms to stop; send it again to stop waiting)\n`,
    );
    cancel.abort(new RunCancelledError(signal));
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: cancel.signal,
    forceSignal: force.signal,
    /** The exit code the signal calls for, if one came. */
    exitCode: () => (received ? SIGNAL_EXIT[received] : undefined),
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** `pipeline invoke`. */
export async function invoke(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('invoke', args, {
    payload: { type: 'string' },
    metadata: { type: 'string' },
    timeout: { type: 'string' },
    'idempotency-key': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return (void io.out(HELP), EXIT.OK);
  const [service, ...extra] = positionals;
  if (!service) throw new UsageError('missing <service>. Run `pipeline list` to see the installed services.');
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"; pass the payload with --payload '{...}'.`);
  const payload = parseJsonOption('--payload', values.payload, io.cwd);
  const metadata = parseJsonOption('--metadata', values.metadata, io.cwd);
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) {
    throw new UsageError(`--timeout must be a positive whole number of milliseconds (got "${values.timeout}").`);
  }

  const invoker = createInvoker({ env: io.env });
  // A plugin's runs may need V8 heap sizes set when node starts (a labelling plugin's young
  // generation): start again with them, before anything of the run exists.
  const restart =
    io.restartWith && missingNodeOptions(invoker.nodeOptionsOf(service), process.execArgv, io.env.NODE_OPTIONS);
  if (restart?.length) {
    invoker.logger.debug('starting node again with the options the plugin asks for', { node_options: restart });
    await invoker.close();
    io.restartWith!(restart);
  }
  // OpenTelemetry export when OTEL_EXPORTER_OTLP_ENDPOINT asks for it (nothing is loaded otherwise)
  const telemetry = await startTelemetry(io.env, { logger: invoker.logger });
  // A bar on a terminal; off one, a log line every 10 % or 30 s.
  const bar: ProgressReporter | undefined = io.errIsTty
    ? values.json
      ? undefined
      : new ProgressBar(io)
    : new ProgressLog(invoker.logger);
  const signals = cancelOnSignals(io, invoker.lifecycle.cancelGraceMs);
  try {
    const record = await invoker.invokePipelineHandler(service, payload, metadata, {
      timeoutMs,
      idempotencyKey: values['idempotency-key'],
      signal: signals.signal,
      forceSignal: signals.forceSignal,
      onProgress: bar && ((done, total) => bar.update(done, total)),
    });
    bar?.clear();
    io.out(values.json ? `${JSON.stringify(record, null, 2)}\n` : summary(record));
    return signals.exitCode() ?? (record.status === 'SUCCEEDED' ? EXIT.OK : EXIT.HANDLER_FAILED);
  } catch (error) {
    const code = signals.exitCode();
    if (code === undefined || (error as Error).name !== 'AbortError') throw error;
    io.err(`pipeline invoke: ${(error as Error).message}\n`);
    return code;
  } finally {
    signals.dispose();
    bar?.clear();
    await invoker.close();
    await telemetry.shutdown(); // spans leave before the process does
  }
}

function summary(record: RunExecutionMetadata): string {
  const lines = [
    record.replayed
      ? `replayed run ${record.run_id}: ${record.service} ${record.status} earlier with this idempotency key; nothing ran`
      : `${record.status} ${record.service} (run ${record.run_id})`,
    `  status code  ${record.status_code}`,
    `  body         ${record.body}`,
    `  duration     ${record.duration_ms ?? 0} ms`,
    `  handler      ${record.handler_package}@${record.handler_version}`,
  ];
  if (record.error) lines.push(`  error        ${record.error.name}: ${record.error.message}`);
  return `${lines.join('\n')}\n`;
}
