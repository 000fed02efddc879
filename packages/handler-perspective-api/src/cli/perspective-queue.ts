import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { perspectiveConfigFromEnv, queueFiles } from '../config';
import { SqliteQueue } from '@pipeline-invocation/post-labelling';

const HELP = `Usage: perspective-queue <command> [options]

Feed and read the queues of ml_inference_perspective_api (SQLite files in the original
pipeline's layout, under $BSKY_DATA_DIR/queue or $PIPELINE_HOME/data/queue).

Commands:
  enqueue <posts.jsonl>   add posts (one JSON object per line: uri, text, preprocessing_timestamp)
  stats                   rows and posts per status in the input and output queues
  export <labels.jsonl>   write every label in the output queue as JSON lines

Options:
  --queue-dir DIR    use this queue folder instead
  --batch-size N     posts per input row for enqueue (default 100)
  --json             stats as JSON
  -h, --help         show this help

Exit codes: 0 success, 2 invalid input (nothing is written).
`;

/** Where the CLI writes: results to `out`, diagnostics to `err`. */
export interface QueueCliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: QueueCliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Run the CLI; returns the exit code. */
export function main(argv: string[], io: QueueCliIo = processIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'queue-dir': { type: 'string' },
        'batch-size': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`perspective-queue: ${(error as Error).message}. Run \`perspective-queue --help\`.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, file, ...extra] = positionals;
  if (values.help || !command) {
    io.out(HELP);
    return command || values.help ? 0 : 2;
  }
  try {
    const queueDir = values['queue-dir'] ? resolve(values['queue-dir']) : perspectiveConfigFromEnv().queueDir;
    const files = queueFiles({ queueDir });
    if (extra.length) throw new InputError(`unexpected argument "${extra[0]}"`);
    switch (command) {
      case 'enqueue':
        return enqueue(files.input, requireFile(file, 'enqueue <posts.jsonl>'), values['batch-size'], io);
      case 'stats':
        return stats(files, values.json === true, io);
      case 'export':
        return exportLabels(files.output, requireFile(file, 'export <labels.jsonl>'), io);
      default:
        throw new InputError(`unknown command "${command}"; commands: enqueue, stats, export`);
    }
  } catch (error) {
    io.err(`perspective-queue: ${(error as Error).message}\n`);
    return error instanceof InputError || (error as Error).name === 'InvalidRequestError' ? 2 : 1;
  }
}

class InputError extends Error {}

function requireFile(file: string | undefined, usage: string): string {
  if (!file) throw new InputError(`missing file: perspective-queue ${usage}`);
  return resolve(file);
}

function enqueue(
  queueFile: string,
  file: string,
  batchSizeOption: string | undefined,
  io: { out: (s: string) => void },
): number {
  const batchSize = batchSizeOption === undefined ? 100 : Number(batchSizeOption);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InputError(`--batch-size must be a positive whole number (got "${batchSizeOption}")`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const posts: Record<string, unknown>[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      const value = JSON.parse(line);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        problems.push(`line ${index + 1}: not a JSON object`);
      else if (typeof value.uri !== 'string' || value.uri === '')
        problems.push(`line ${index + 1}: "uri" must be a non-empty string`);
      else posts.push(value);
    } catch (error) {
      problems.push(`line ${index + 1}: not valid JSON (${(error as Error).message})`);
    }
  });
  if (problems.length) {
    throw new InputError(
      `${file} has ${problems.length} bad line(s); nothing was queued:\n  ${problems.slice(0, 20).join('\n  ')}`,
    );
  }
  const queue = new SqliteQueue(queueFile);
  try {
    const rows = queue.addInRows(posts, batchSize, (row) => ({
      source: 'perspective-queue',
      batch_size: batchSize,
      actual_batch_size: row.length,
    }));
    io.out(`queued ${posts.length} post(s) in ${rows.length} row(s) in ${queueFile}\n`);
  } finally {
    queue.close();
  }
  return 0;
}

function stats(files: { input: string; output: string }, json: boolean, io: { out: (s: string) => void }): number {
  const read = (file: string) => {
    if (!SqliteQueue.exists(file)) return [];
    const queue = new SqliteQueue(file, { readonly: true });
    try {
      return queue.stats();
    } finally {
      queue.close();
    }
  };
  const result = {
    input: { file: files.input, statuses: read(files.input) },
    output: { file: files.output, statuses: read(files.output) },
  };
  if (json) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    for (const [name, q] of Object.entries(result)) {
      io.out(`${name}: ${q.file}\n`);
      if (q.statuses.length === 0) io.out('  (empty)\n');
      for (const s of q.statuses) io.out(`  ${s.status.padEnd(10)} ${s.rows} row(s), ${s.items} item(s)\n`);
    }
  }
  return 0;
}

function exportLabels(outputQueue: string, file: string, io: { out: (s: string) => void }): number {
  if (!SqliteQueue.exists(outputQueue))
    throw new InputError(`no output queue at ${outputQueue}: run the handler first`);
  const queue = new SqliteQueue(outputQueue, { readonly: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w');
  let count = 0;
  try {
    for (const row of queue.rows()) {
      for (const label of JSON.parse(row.payload) as unknown[]) {
        writeSync(fd, `${JSON.stringify(label)}\n`);
        count += 1;
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    queue.close();
  }
  renameSync(temporary, file);
  io.out(`exported ${count} label(s) to ${file}\n`);
  return 0;
}
