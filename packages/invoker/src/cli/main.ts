// The `pipeline` command. Keep the imports here minimal: `pipeline list` must start about as
// fast as node itself, so each command module is required only when it runs.
import { EXIT, exitCodeFor } from './exit-codes';
import { processIo, type Io } from './io';

/** A CLI command: runs with its arguments and returns the exit code. */
export type Command = (args: string[], io: Io) => Promise<number>;

/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point */
const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  list: { summary: 'list the services of the installed handler plugins', load: () => require('./commands/list').list },
  invoke: { summary: 'run one invocation and print its record', load: () => require('./commands/invoke').invoke },
  runs: {
    summary: 'show run history from the configured store; runs prune removes old ones',
    load: () => require('./commands/runs').runs,
  },
  cancel: {
    summary: 'ask a running run (in any process, on any machine) to stop',
    load: () => require('./commands/cancel').cancel,
  },
  show: { summary: 'show one run by id', load: () => require('./commands/runs').show },
  doctor: {
    summary: 'show the configuration in effect and check the store and tracker',
    load: () => require('./commands/doctor').doctor,
  },
  outbox: {
    summary: 'show (and --flush) records waiting to be written',
    load: () => require('./commands/outbox').outbox,
  },
  plugin: {
    summary: 'plugin check [dir]: check a handler plugin package against the contract',
    load: () => require('./commands/plugin').plugin,
  },
  storage: {
    summary: 'storage init | migrate: create the DynamoDB table (or SQLite file); migrate it in place',
    load: () => require('./commands/storage').storage,
  },
  worker: { summary: 'run queued invocations (needs @pipeline-invocation/worker)', load: () => fromWorker('worker') },
  queue: {
    summary: 'queue stats: job counts per service (needs @pipeline-invocation/worker)',
    load: () => fromWorker('queue'),
  },
  dashboard: {
    summary: 'the run dashboard in the browser (needs @pipeline-invocation/dashboard)',
    load: () => fromPackage('@pipeline-invocation/dashboard', 'dashboard', 'the dashboard package'),
  },
  schedule: {
    summary: 'schedule add | list | remove: runs on a cron or an interval (needs @pipeline-invocation/worker)',
    load: () => fromWorker('schedule'),
  },
};

/**
 * Commands the optional worker package provides; resolved at run time, so the invoker never
 * depends on it. Without the package, `--help` still answers (and says how to install it).
 */
function fromWorker(name: 'worker' | 'queue' | 'schedule'): Command {
  return fromPackage('@pipeline-invocation/worker', name, 'the worker package');
}

/** A command of another optional package (the dashboard), found at run time like the worker's. */
function fromPackage(packageName: string, name: string, what: string): Command {
  let commands: Record<string, Command>;
  try {
    commands = require(`${packageName}/cli`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    const install = `\`pipeline ${name}\` needs ${what}: npm install ${packageName}`;
    return async (args, io) => {
      if (args.includes('--help') || args.includes('-h')) {
        io.out(`Usage: pipeline ${name} ...\n\n${COMMANDS[name]!.summary}.\n\n${install}\n`);
        return EXIT.OK;
      }
      throw Object.assign(new Error(install), { name: 'UsageError' });
    };
  }
  return commands[name]!;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** One line per command, the summaries in one column two spaces past the longest name. */
function commandList(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  return Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`)
    .join('\n');
}

/** Top-level help. */
export const HELP = `Usage: pipeline <command> [options]

Invoke pipeline handlers and inspect their runs.

Commands:
${commandList()}

Options:
  -h, --help     show help (also after any command: pipeline invoke --help)
  -v, --version  show the version

Exit codes:
  0  success                       4  run store failure (record kept in the outbox)
  1  handler failed, timed out     5  plugin could not be loaded / incompatible / claimed twice
     or was cancelled              6  idempotency conflict: the key's run is still running, or
  2  invalid input                    the key was used with another payload
  3  unknown service              70  stopped without an answer (a bug: please report it)
                                 130  interrupted by SIGINT (run recorded CANCELLED)
                                 143  stopped by SIGTERM (run recorded CANCELLED)

Configuration comes from environment variables: see \`pipeline doctor\`.
`;

/** Run the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(HELP);
    return name === undefined ? EXIT.INVALID_INPUT : EXIT.OK;
  }
  if (name === '-v' || name === '--version') {
    io.out(`${(require('../../package.json') as { version: string }).version}\n`); // eslint-disable-line @typescript-eslint/no-require-imports
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(
      `pipeline: unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}. Run \`pipeline --help\`.\n`,
    );
    return EXIT.INVALID_INPUT;
  }
  try {
    return await command.load()(rest, io);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = exitCodeFor(error);
    io.err(`pipeline ${name}: ${message}\n`);
    // With --json, a script reads stdout only: the error is there too, as JSON.
    if (rest.includes('--json')) {
      const errorName = error instanceof Error ? error.name : 'Error';
      io.out(`${JSON.stringify({ error: { name: errorName, message, exit_code: code } }, null, 2)}\n`);
    }
    return code;
  }
}
