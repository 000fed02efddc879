'use strict';
// The backstop of the `pipeline` entry point (bin/pipeline.js): a command whose promise never
// settles while nothing is left for Node to run (a promise nobody resolves: a bug in pipeline or
// a plugin) would end the process silently with exit code 0, which a script reads as success.
// The entry point calls noAnswer() when the event loop empties before the command has answered:
// it says so on stderr (and on stdout as JSON with --json) and sets exit code 70 (EX_SOFTWARE, an
// internal error). Loaded only then: a command that answers never reads this file.

/** Exit code of a command that ended without an answer (`EXIT.NO_ANSWER` of the CLI). */
const NO_ANSWER = 70;

/**
 * Report that the command `argv` (the command line after `pipeline`) stopped without an answer.
 * @param {readonly string[]} argv
 */
function noAnswer(argv) {
  const message =
    'the command stopped without an answer: nothing was left to run while it waited (a bug in pipeline or a plugin; please report it with this command line)';
  process.stderr.write(`pipeline ${argv[0] ?? ''}: ${message}\n`);
  if (argv.includes('--json'))
    process.stdout.write(
      `${JSON.stringify({ error: { name: 'NoAnswer', message, exit_code: NO_ANSWER } }, null, 2)}\n`,
    );
  process.exitCode = NO_ANSWER;
}

module.exports = { noAnswer, NO_ANSWER };
