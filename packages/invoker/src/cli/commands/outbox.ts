import { RunLifecycle } from '@pipeline-invocation/core';
import { Outbox, createRunStore, outboxFile, storageConfigFromEnv } from '@pipeline-invocation/storage';
import { EXIT } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline outbox [--flush] [--json]

Records that could not be written to the run store wait in $PIPELINE_HOME/outbox.jsonl.
Every invocation replays them first; --flush replays them now. Records the store refuses for
good (too large, invalid, or another terminal record already stored) and lines that are not
records are moved to outbox.jsonl.quarantine.jsonl with the reason, never dropped.

Options:
  --flush     write the waiting records to the store (exit code 4 if some still fail)
  --json      print {waiting, quarantined} (the records and entries) as JSON
  -h, --help  show this help
`;

/** `pipeline outbox`. */
export async function outbox(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('outbox', args, { flush: { type: 'boolean' }, json: { type: 'boolean' } }, false);
  if (values.help) return (void io.out(HELP), EXIT.OK);
  const config = storageConfigFromEnv(io.env, io.cwd);
  const box = new Outbox(outboxFile(config));
  if (!values.flush) {
    const pending = box.pending();
    const quarantined = box.quarantined();
    if (values.json) io.out(`${JSON.stringify({ waiting: pending, quarantined }, null, 2)}\n`);
    else
      io.out(
        `${pending.length} record(s) waiting in ${box.file}\n${pending.map((r) => `  ${r.run_id}  ${r.service}  ${r.status}\n`).join('')}` +
          `${quarantined.length} quarantined in ${box.quarantineFile}\n${quarantined.map((q) => `  ${q.record?.run_id ?? '(line)'}  ${q.reason}\n`).join('')}`,
      );
    return EXIT.OK;
  }
  const store = await createRunStore(config);
  try {
    const result = await box.flush(new RunLifecycle(store));
    io.out(
      `wrote ${result.written} record(s) to ${store.description}; ${result.remaining} still waiting; ${result.quarantined} quarantined\n`,
    );
    if (result.remaining) {
      io.err(`pipeline outbox: ${result.error instanceof Error ? result.error.message : String(result.error)}\n`);
      return EXIT.STORAGE_FAILED;
    }
    return EXIT.OK;
  } finally {
    await store.close();
  }
}
