'use strict';
// A backstop of the `pipeline` entry point: a command whose promise never settles, while nothing
// is left for Node to run (a promise nobody resolves: a bug in pipeline or a plugin), would end
// the process silently with exit code 0, which a script reads as success. When the event loop
// empties before the command has answered, this says so (on stderr, and on stdout as JSON with
// --json) and ends with exit code 70 (EX_SOFTWARE: an internal error).

/** Exit code of a command that ended without an answer (`EXIT.NO_ANSWER` of the CLI). */
const NO_ANSWER = 70;

/**
 * Install the backstop for one command; returns `answered()`, to call once the command's promise
 * has settled (from then on an emptied event loop ends the process as usual).
 * @param {readonly string[]} argv the command line after `pipeline`
 */
function guardAnswer(argv) {
  let answered = false;
  process.on('beforeExit', () => {
    if (answered) return;
    answered = true;
    const message =
      'the command stopped without an answer: nothing was left to run while it waited (a bug in pipeline or a plugin; please report it with this command line)';
    process.stderr.write(`pipeline ${argv[0] ?? ''}: ${message}\n`);
    if (argv.includes('--json'))
      process.stdout.write(
        `${JSON.stringify({ error: { name: 'NoAnswer', message, exit_code: NO_ANSWER } }, null, 2)}\n`,
      );
    process.exitCode = NO_ANSWER;
  });
  return () => {
    answered = true;
  };
}

module.exports = { guardAnswer, NO_ANSWER };
