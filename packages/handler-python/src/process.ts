import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { systemClock, type Clock, type Logger } from '@pipeline-invocation/core';
import { parseLine, type Message } from './protocol';

/** The Python side shipped in this package. */
export const RUNNER_PATH = join(__dirname, '..', 'python', 'pipeline_runner.py');

/** A context larger than this (bytes of JSON) goes through a file, not the environment. */
const CONTEXT_ENV_LIMIT = 64 * 1024;
/** A log line longer than this is cut (characters). */
const MAX_LINE = 16 * 1024;

/** One step of a cancellation: the time it was taken, from the abort (ms). */
export interface EscalationStep {
  readonly step: 'cancel' | 'SIGINT' | 'SIGTERM' | 'SIGKILL';
  readonly atMs: number;
}

/** What starting one Python process needs. */
export interface PythonProcessOptions {
  readonly interpreter: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The run's context (JSON), handed over through the environment or a file. */
  readonly context?: unknown;
  /** Aborted on cancellation or timeout: `ctx.cancelled`, then SIGINT, SIGTERM, SIGKILL. */
  readonly signal?: AbortSignal;
  /** Time from the abort to SIGKILL (ms); SIGINT after a third, SIGTERM after two thirds. */
  readonly killAfterMs: number;
  readonly logger: Logger;
  /** Each message of the channel (fd 3), in order. */
  readonly onMessage?: (message: Message) => void;
  /** The invoker's clock (the `CLOCK` token): the escalation's timers run on it. Default: the system's. */
  readonly clock?: Clock;
  /** Keep stdout in the outcome instead of logging it (`--check`). */
  readonly captureStdout?: boolean;
}

/** How a Python process ended. */
export interface PythonProcessOutcome {
  /** The interpreter could not be started (`ENOENT`: not found). */
  readonly spawnError?: NodeJS.ErrnoException;
  /** The process's id from the operating system (known before `opened`), if it started. */
  readonly pid?: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The `closed` message, when the process sent one. */
  readonly closed?: Extract<Message, { type: 'closed' }>;
  /** The `opened` message, when the process sent one. */
  readonly opened?: Extract<Message, { type: 'opened' }>;
  /** The cancellation steps taken (empty when the run was not cancelled). */
  readonly escalation: readonly EscalationStep[];
  /** Everything the process wrote to stdout (for `--check`). */
  readonly stdout: string;
}

// A process this package started is never left behind by the Node process that started it.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * Start a Python process with the message channel on fd 3 and control lines on stdin, and
 * resolve once it has exited and its pipes are drained. Never rejects: a start failure is
 * `spawnError`. stdout and stderr lines become log lines of `logger` (which redacts secrets).
 */
export function runPythonProcess(options: PythonProcessOptions): Promise<PythonProcessOutcome> {
  const env: NodeJS.ProcessEnv = { ...options.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
  let contextDir: string | undefined;
  if (options.context !== undefined) {
    const json = JSON.stringify(options.context);
    if (Buffer.byteLength(json) <= CONTEXT_ENV_LIMIT) env.PIPELINE_PYTHON_CONTEXT = json;
    else {
      contextDir = mkdtempSync(join(tmpdir(), 'pipeline-python-'));
      env.PIPELINE_PYTHON_CONTEXT_FILE = join(contextDir, 'context.json');
      writeFileSync(env.PIPELINE_PYTHON_CONTEXT_FILE, json, { mode: 0o600 });
    }
  }
  return new Promise((resolvePromise) => {
    const escalation: EscalationStep[] = [];
    const clock = options.clock ?? systemClock;
    const timers: ReturnType<Clock['setTimeout']>[] = [];
    let opened: PythonProcessOutcome['opened'];
    let closed: PythonProcessOutcome['closed'];
    let stdout = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    const child = spawn(options.interpreter, [...options.args], {
      cwd: options.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      // its own process group: a terminal's Ctrl-C reaches it through the cancellation steps only
      detached: true,
    });
    track(child);
    child.stdin!.on('error', () => {}); // the process may be gone when a control line is written

    const lines = (stream: Readable, each: (line: string) => void) =>
      new Promise<void>((done) => {
        const reader = createInterface({ input: stream, crlfDelay: Infinity });
        reader.on('line', (line) => each(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}...` : line));
        reader.on('close', done);
        stream.on('error', () => done());
      });
    const drained = Promise.all([
      lines(child.stdout!, (line) => {
        if (options.captureStdout) stdout += `${line}\n`;
        else options.logger.info(line, { stream: 'stdout' });
      }),
      lines(child.stderr!, (line) => options.logger.info(line, { stream: 'stderr' })),
      lines(child.stdio[3] as Readable, (line) => {
        if (line.trim() === '') return;
        const parsed = parseLine(line);
        if ('problem' in parsed) return options.logger.warn(`python channel: ignored ${parsed.problem}`);
        const { message } = parsed;
        if (message.type === 'opened') opened = message;
        if (message.type === 'closed') closed = message;
        options.onMessage?.(message);
      }),
    ]);

    const alive = () => child.exitCode === null && child.signalCode === null && !spawnError;
    const onAbort = () => {
      const started = clock.now();
      const step = (name: EscalationStep['step'], act: () => void) => {
        if (!alive()) return;
        escalation.push({ step: name, atMs: clock.now() - started });
        options.logger.warn(
          `python: ${name === 'cancel' ? 'telling the handler to stop (ctx.cancelled)' : `sending ${name}`}`,
          {
            pid: child.pid,
          },
        );
        act();
      };
      // before `opened` only the interpreter and the runner are starting: no user code to wait for
      if (!opened) return step('SIGKILL', () => child.kill('SIGKILL'));
      step('cancel', () => child.stdin!.write('{"type":"cancel"}\n'));
      const k = options.killAfterMs;
      timers.push(clock.setTimeout(() => step('SIGINT', () => child.kill('SIGINT')), k / 3));
      timers.push(clock.setTimeout(() => step('SIGTERM', () => child.kill('SIGTERM')), (2 * k) / 3));
      timers.push(clock.setTimeout(() => step('SIGKILL', () => child.kill('SIGKILL')), k));
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    let finished = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      live.delete(child);
      options.signal?.removeEventListener('abort', onAbort);
      for (const t of timers) clock.clearTimeout(t);
      if (contextDir) rmSync(contextDir, { recursive: true, force: true });
      resolvePromise({ spawnError, pid: child.pid, exitCode, signal, closed, opened, escalation, stdout });
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
      // no 'exit' follows a failed spawn; the pipes close at once
      if (child.pid === undefined) void drained.then(() => finish(null, null));
    });
    child.once('exit', (code, signal) => {
      // a grandchild that kept the pipes open must not keep the run waiting for ever
      const late = setTimeout(() => finish(code, signal), 2000);
      void drained.then(() => {
        clearTimeout(late);
        finish(code, signal);
      });
    });
  });
}

/** `PYTHONPATH` for a run: the configured folders, the working folder, then what was set. */
export function pythonPathFor(pythonPath: readonly string[], cwd: string, existing: string | undefined): string {
  return [...pythonPath, cwd, ...(existing ? [existing] : [])].join(delimiter);
}
