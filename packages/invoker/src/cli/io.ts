import { writeSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes';

/** Where a command writes: results to `out` (stdout), everything else to `err` (stderr). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bar). */
  readonly errIsTty: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /**
   * Start this command again in this same process (`process.execve`: same pid, same standard
   * streams, nothing of this process kept) with `nodeOptions` before node's own. Only the CLI's
   * own process has it, where node can (22.15 and later, not on Windows).
   */
  readonly restartWith?: (nodeOptions: readonly string[]) => void;
}

/**
 * Write `text` to stdout. On Linux, where Node writes stdout synchronously whatever it is (file,
 * pipe, terminal), straight to file descriptor 1: the same bytes in the same order, without making
 * process.stdout (a stream, a few ms of a cold start). What cannot be written at once (a
 * non-blocking pipe that is full) or fails goes through process.stdout, as before.
 */
function writeStdout(text: string): void {
  if (process.platform === 'linux' && !stdoutStream) {
    const bytes = Buffer.from(text, 'utf8');
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(1, bytes, done, bytes.length - done);
      return;
    } catch {
      // from now on everything goes through the stream, so nothing overtakes what it still holds
      stdoutStream = true;
      process.stdout.write(bytes.subarray(done));
      return;
    }
  }
  process.stdout.write(text);
}
/** Whether stdout is written through process.stdout (after a write that could not be made at once). */
let stdoutStream = false;

/** `process.execve`, where this node has it (22.15 and later, not on Windows). */
const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => void }).execve?.bind(
  process,
);

/** The process's own streams. */
export const processIo: Io = {
  out: writeStdout,
  err: (text) => void process.stderr.write(text),
  // a getter: process.stderr is made on first use, and a command that writes only to stdout
  // (`pipeline list`) does not pay for it
  get errIsTty() {
    return process.stderr.isTTY === true;
  },
  env: process.env,
  cwd: process.cwd(),
  restartWith: execve
    ? (nodeOptions) =>
        execve(
          process.execPath,
          [process.execPath, ...nodeOptions, ...process.execArgv, ...process.argv.slice(1)],
          process.env,
        )
    : undefined,
};

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed values: strings for `type: 'string'` options, booleans for flags. */
export type ParsedValues<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: 'string' } ? string : boolean;
} & { help?: boolean };

/** Parse a command's arguments strictly, turning parse errors into a UsageError that names the command. */
export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  allowPositionals = true,
): { values: ParsedValues<O>; positionals: string[] } {
  // no arguments and no defaults: what parseArgs answers (its values without a prototype, as
  // its are), without loading its modules at a cold start
  if (args.length === 0 && !Object.values(options).some((option) => option.default !== undefined)) {
    return { values: Object.create(null) as ParsedValues<O>, positionals: [] };
  }
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    }) as { values: ParsedValues<O>; positionals: string[] };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun \`pipeline ${command} --help\` for usage.`);
  }
}

/** Print rows as an aligned table. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}
