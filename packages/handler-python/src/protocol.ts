// The messages are checked by hand (the common case: every line of every run); a line the check
// does not accept goes through MessageSchema (protocol-schema.ts), whose answer stands, so zod
// loads only for a line that is malformed or of an unusual shape (tests/hand-checks.test.ts
// compares the two on random messages).
import { isPlainRecord, type z } from '@pipeline-invocation/core';
import type * as schema from './protocol-schema';

/** The protocol version this package speaks (the `v` field of every message). */
export const PROTOCOL_VERSION = 1;

/** An exception the Python side reports in its `closed` message. */
export type PythonException = z.infer<typeof schema.ExceptionSchema>;

/** One message of the protocol. */
export type Message = z.infer<typeof schema.MessageSchema>;

/** A line of the channel: a message, or why it is not one (logged by the caller, never fatal). */
export type ParsedLine = { message: Message } | { problem: string };

/** Parse one line of the channel. */
export function parseLine(line: string): ParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { problem: `a line that is not JSON: ${line.slice(0, 200)}` };
  }
  const known = messageOf(json);
  if (known) return { message: known };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- zod loads for an unusual line only
  const parsed = (require('./protocol-schema') as typeof schema).MessageSchema.safeParse(json);
  if (parsed.success) return { message: parsed.data };
  const type = (json as { type?: unknown } | null)?.type;
  return {
    problem:
      typeof type === 'string' && !['opened', 'log', 'progress', 'metric', 'closed'].includes(type)
        ? `an unknown message type "${type}" (protocol v${String((json as { v?: unknown }).v)}; this host speaks v${PROTOCOL_VERSION})`
        : `a malformed message: ${line.slice(0, 200)}`,
  };
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const optional = <T>(value: unknown, check: (v: unknown) => v is T): boolean => value === undefined || check(value);

/**
 * What MessageSchema makes of `json` when it is a message of the ordinary shape (its known
 * fields, as zod's objects keep them); undefined for anything else, which the schema then decides.
 */
export function messageOf(json: unknown): Message | undefined {
  if (!isPlainRecord(json) || !isNumber(json.v)) return undefined;
  const { v } = json;
  switch (json.type) {
    case 'opened':
      return isNumber(json.pid) && isString(json.python) && isString(json.entry)
        ? { v, type: 'opened', pid: json.pid, python: json.python, entry: json.entry }
        : undefined;
    case 'log':
      return isString(json.level) && isString(json.message) && optional(json.logger, isString)
        ? {
            v,
            type: 'log',
            level: json.level,
            message: json.message,
            ...(json.logger === undefined ? {} : { logger: json.logger as string }),
          }
        : undefined;
    case 'progress':
      return isNumber(json.done) && isNumber(json.total)
        ? { v, type: 'progress', done: json.done, total: json.total }
        : undefined;
    case 'metric':
      return isString(json.name) && json.name.length > 0 && isNumber(json.value)
        ? { v, type: 'metric', name: json.name, value: json.value }
        : undefined;
    case 'closed': {
      const result = json.result === undefined ? undefined : resultOf(json.result);
      const exception = json.exception === undefined ? undefined : exceptionOf(json.exception);
      if ((json.result !== undefined && !result) || (json.exception !== undefined && !exception)) return undefined;
      if (!optional(json.cancelled, (c): c is boolean => typeof c === 'boolean')) return undefined;
      return {
        v,
        type: 'closed',
        ...(result ? { result } : {}),
        ...(exception ? { exception } : {}),
        ...(json.cancelled === undefined ? {} : { cancelled: json.cancelled as boolean }),
      };
    }
    default:
      return undefined;
  }
}

function resultOf(value: unknown): Extract<Message, { type: 'closed' }>['result'] {
  if (
    !isPlainRecord(value) ||
    !Number.isSafeInteger(value.status_code) ||
    !isString(value.body) ||
    !isPlainRecord(value.metadata)
  )
    return undefined;
  return { status_code: value.status_code as number, body: value.body, metadata: { ...value.metadata } };
}

function exceptionOf(value: unknown): PythonException | undefined {
  if (!isPlainRecord(value) || !isString(value.type) || !isString(value.message)) return undefined;
  if (!optional(value.module, isString) || !optional(value.phase, isString) || !optional(value.traceback, isString))
    return undefined;
  let frames: PythonException['frames'];
  if (value.frames !== undefined) {
    if (!Array.isArray(value.frames)) return undefined;
    frames = [];
    for (const frame of value.frames as unknown[]) {
      if (!isPlainRecord(frame) || !isString(frame.file) || !isString(frame.function)) return undefined;
      if (frame.line !== null && !isNumber(frame.line)) return undefined;
      frames.push({ file: frame.file, line: frame.line, function: frame.function });
    }
  }
  return {
    type: value.type,
    ...(value.module === undefined ? {} : { module: value.module as string }),
    message: value.message,
    ...(value.phase === undefined ? {} : { phase: value.phase as string }),
    ...(value.traceback === undefined ? {} : { traceback: value.traceback as string }),
    ...(frames ? { frames } : {}),
  };
}
