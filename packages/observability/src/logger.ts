import { ConfigError } from '@pipeline-invocation/core/errors';
import type { Writable } from 'node:stream';
import type pino from 'pino';
import type { LogFields, Logger } from '@pipeline-invocation/core';
import { Redactor } from './redact';
import { aroundStatusLine } from './status-line';

/** Log levels, lowest first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default: `LOG_LEVEL`, else `info`. */
  level?: LogLevel;
  /** `json` (default when not a TTY) or `pretty` (default on a TTY). */
  format?: 'json' | 'pretty';
  /** Where lines go; default stderr (stdout is for results). */
  destination?: NodeJS.WritableStream;
  /** Secrets to redact; default from `process.env`. */
  redactor?: Redactor;
  /** Fields on every line. */
  bindings?: LogFields;
  /** Colour in the human format (default: on a TTY, unless `NO_COLOR`; `FORCE_COLOR` forces it). */
  color?: boolean;
  /** Environment read for `LOG_LEVEL`, `NO_COLOR` and `FORCE_COLOR` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Colour per https://no-color.org and the FORCE_COLOR convention: NO_COLOR wins, then FORCE_COLOR, then the TTY. */
export function colorEnabled(env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTty;
}

/**
 * A structured logger (pino, JSON lines on stderr) that redacts secrets from every message and
 * field. On a TTY it prints short human lines instead.
 *
 * @throws TypeError when `LOG_LEVEL` is not a known level.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const level = options.level ?? parseLogLevel(env.LOG_LEVEL);
  const destination = options.destination ?? process.stderr;
  const isTty = (destination as NodeJS.WriteStream).isTTY === true;
  const format = options.format ?? (isTty ? 'pretty' : 'json');
  const color = options.color ?? colorEnabled(env, isTty);
  const stream = format === 'pretty' ? prettyStream(destination, color) : destination;
  // pino (with sonic-boom, thread-stream and their built-ins) loads with the first logger, not
  // with the package: importing the invoker (the Lambda entry's cold import) does not load it
  const pinoOf = require('pino') as typeof pino; // eslint-disable-line @typescript-eslint/no-require-imports
  const base = pinoOf({ level, base: undefined, timestamp: pinoOf.stdTimeFunctions.isoTime }, stream);
  const redactor = options.redactor ?? new Redactor();
  return new PinoLogger(options.bindings ? base.child(redactor.redact(options.bindings)) : base, redactor);
}

/** Parse `LOG_LEVEL` (empty means `info`). */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (!value) return 'info';
  const level = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ConfigError('LOG_LEVEL', value, `expected one of ${LOG_LEVELS.join(', ')}`);
}

class PinoLogger implements Logger {
  private made: pino.Logger | undefined;

  /**
   * `source` makes the pino logger when it is first written at an enabled level: a child made
   * per run (run id, service) costs nothing in a run that logs nothing.
   */
  constructor(
    private readonly source: pino.Logger | (() => pino.Logger),
    private readonly redactor: Redactor,
    /** The logger whose level this one logs at (pino children inherit their parent's level). */
    private readonly levelOf: pino.Logger = source as pino.Logger,
  ) {}
  debug(message: string, fields?: LogFields) {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields) {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields) {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields) {
    this.write('error', message, fields);
  }
  child(bindings: LogFields): Logger {
    return new PinoLogger(() => this.pino.child(this.redactor.redact(bindings)), this.redactor, this.levelOf);
  }
  private get pino(): pino.Logger {
    this.made ??= typeof this.source === 'function' ? this.source() : this.source;
    return this.made;
  }
  private write(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: LogFields) {
    if (!this.levelOf.isLevelEnabled(level)) return;
    const text = this.redactor.redactString(message);
    if (fields) this.pino[level](this.redactor.redact(fields), text);
    else this.pino[level](text);
  }
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** ANSI colours of the level names (and a dim clock). */
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '36', 40: '33', 50: '31', 60: '31' };
const paint = (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m`;

/**
 * Turns pino's JSON lines into `HH:MM:SS LEVEL message key=value` for people, clearing a
 * progress bar (the status line) before each line so the two never share a line.
 */
function prettyStream(destination: NodeJS.WritableStream, color: boolean): Writable {
  const { Writable: WritableStream } = require('node:stream') as typeof import('node:stream'); // eslint-disable-line @typescript-eslint/no-require-imports
  return new WritableStream({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        let text: string;
        try {
          const { level, time, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
          const clock = typeof time === 'string' ? time.slice(11, 19) : '';
          const extras = Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          const name = (LEVEL_NAMES[level as number] ?? '').padEnd(5);
          const shown = color
            ? `${paint('2', clock)} ${paint(LEVEL_COLORS[level as number] ?? '0', name)}`
            : `${clock} ${name}`;
          text = `${shown} ${msg ?? ''}${extras ? `  ${extras}` : ''}\n`;
        } catch {
          text = `${line}\n`;
        }
        aroundStatusLine(() => destination.write(text));
      }
      done();
    },
  });
}

/** A logger that writes nothing (tests, embedding). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
