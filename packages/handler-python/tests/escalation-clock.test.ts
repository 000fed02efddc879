import { systemClock, type Clock } from '@pipeline-invocation/core';
import { runPythonProcess } from '../src/process';
import { capturingLogger } from './helpers';

/** A clock whose timers fire only when the test says: the escalation's delays cost no waiting. */
function manualClock() {
  let nowMs = 0;
  const pending: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  const clock = {
    ...systemClock,
    now: () => nowMs,
    setTimeout: (fn: () => void, ms: number) => {
      const id = ++ids;
      pending.push({ at: nowMs + ms, fn, id });
      return id as unknown as ReturnType<Clock['setTimeout']>;
    },
    clearTimeout: (timer: unknown) => {
      const at = pending.findIndex((p) => p.id === (timer as number));
      if (at >= 0) pending.splice(at, 1);
    },
  } satisfies Clock;
  return {
    clock,
    pending: () => pending.length,
    /** Move the time to `ms` and run the timers due by then. */
    advanceTo(ms: number) {
      nowMs = ms;
      for (const due of pending.filter((p) => p.at <= ms).sort((a, b) => a.at - b.at)) {
        pending.splice(pending.indexOf(due), 1);
        due.fn();
      }
    },
  };
}

// ignores SIGINT and SIGTERM, says it is open, then waits
const STUBBORN = [
  '-c',
  'import os, signal, time\n' +
    'signal.signal(signal.SIGINT, signal.SIG_IGN)\n' +
    'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n' +
    'os.write(3, b\'{"v": 1, "type": "opened", "pid": 1, "python": "3", "entry": "x"}\\n\')\n' +
    'time.sleep(120)\n',
];

describe('the escalation runs on the injected clock', () => {
  it('ctx.cancelled at once, SIGINT, SIGTERM and SIGKILL only as the clock reaches a third, two thirds and all of killAfterMs', async () => {
    const { clock, advanceTo, pending } = manualClock();
    const { logger, messages } = capturingLogger();
    const controller = new AbortController();
    let opened!: () => void;
    const isOpen = new Promise<void>((resolve) => (opened = resolve));
    const outcome = runPythonProcess({
      interpreter: 'python3',
      args: STUBBORN,
      cwd: process.cwd(),
      env: process.env,
      killAfterMs: 6000,
      signal: controller.signal,
      logger,
      clock,
      onMessage: (m) => m.type === 'opened' && opened(),
    });
    await isOpen;
    controller.abort();
    expect(messages()).toEqual(['python: telling the handler to stop (ctx.cancelled)']);
    expect(pending()).toBe(3);
    advanceTo(1999);
    expect(messages()).toHaveLength(1); // no signal before its time, however long the test takes
    advanceTo(2000);
    advanceTo(4000);
    expect(messages().slice(1)).toEqual(['python: sending SIGINT', 'python: sending SIGTERM']);
    advanceTo(6000);
    const ended = await outcome;
    expect(ended).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(ended.escalation).toEqual([
      { step: 'cancel', atMs: 0 },
      { step: 'SIGINT', atMs: 2000 },
      { step: 'SIGTERM', atMs: 4000 },
      { step: 'SIGKILL', atMs: 6000 },
    ]);
    expect(pending()).toBe(0);
  });
});
