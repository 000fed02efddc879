/**
 * @packageDocumentation
 * For packages that add commands to `pipeline` (the worker's `pipeline worker` and
 * `pipeline queue`): the same argument parsing, table output, usage error and exit codes as the
 * built-in commands. Loads nothing but Node's own modules.
 */
export { parseCommandArgs, table, type Io, type ParsedValues } from './io';
export { EXIT, UsageError } from './exit-codes';
export { parseDurationFlag } from './duration';
export { parseJsonOption } from './json-option';
