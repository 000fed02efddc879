import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureServices, pythonInvoker } from './helpers';
import { tempDir } from '../../../tests/support/temp-dir';

const meta = (record: { metadata: string }) => JSON.parse(record.metadata) as Record<string, any>;

/** Wait (polling real time: the child process runs on its own clock) until `ready()` holds. */
async function until(ready: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cancelling and timing out a Python run (real processes and signals)', () => {
  it('a handler that ignores cancellation is escalated to SIGKILL; the record says the process exited, and how', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('stubborn'), killAfterMs: 900 });
    const controller = new AbortController();
    const run = invoker.invokePipelineHandler('stubborn', {}, {}, { signal: controller.signal, cancelGraceMs: 8000 });
    await until(() => log.messages().includes('ignoring cancellation'));
    controller.abort();
    const record = await run;
    expect(record).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
    const { python_process } = meta(record);
    expect(python_process).toMatchObject({ exited: true, exit_code: null, signal: 'SIGKILL', stopped_by: 'cancel' });
    expect(python_process.escalation.map((s: { step: string }) => s.step)).toEqual([
      'cancel',
      'SIGINT',
      'SIGTERM',
      'SIGKILL',
    ]);
    // a third of killAfterMs apart
    expect(python_process.escalation[3].at_ms).toBeGreaterThanOrEqual(850);
    expect(log.messages()).toEqual(
      expect.arrayContaining([
        'python: telling the handler to stop (ctx.cancelled)',
        'python: sending SIGINT',
        'python: sending SIGTERM',
        'python: sending SIGKILL',
      ]),
    );
  });

  it('a run cancelled while Python is still starting is killed at once; the record still names its pid', async () => {
    // an interpreter that takes 5 s to start: the run is cancelled before the runner opens
    const dir = tempDir('slow-python-');
    const slowPython = join(dir, 'python');
    const startedMark = join(dir, 'started');
    writeFileSync(
      slowPython,
      `#!/usr/bin/env python3\nimport os, sys, time\nopen(${JSON.stringify(startedMark)}, "w").write(str(os.getpid()))\ntime.sleep(5)\nos.execvp("python3", ["python3"] + sys.argv[1:])\n`,
      { mode: 0o755 },
    );
    const { invoker, log } = pythonInvoker(
      { services: fixtureServices('noop'), killAfterMs: 6000 },
      { env: { PIPELINE_PYTHON: slowPython } },
    );
    const controller = new AbortController();
    const run = invoker.invokePipelineHandler('noop', {}, {}, { signal: controller.signal });
    // the interpreter is running (it wrote its pid) and still starting (sleeping its 5 s)
    await until(() => existsSync(startedMark) && readFileSync(startedMark, 'utf8') !== '');
    controller.abort();
    const record = await run;
    expect(record).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
    const { python_process } = meta(record);
    expect(python_process).toMatchObject({ exited: true, signal: 'SIGKILL', python: null, stopped_by: 'cancel' });
    // straight to SIGKILL, at once: no cancel message, no SIGINT, not after the 6 s kill-after
    // (at_ms counts real milliseconds from the cancellation: 0, or 1-2 on a busy machine)
    expect(python_process.escalation).toEqual([{ step: 'SIGKILL', at_ms: expect.any(Number) }]);
    expect(python_process.escalation[0].at_ms).toBeLessThan(1000);
    expect(python_process.pid).toBe(Number(readFileSync(startedMark, 'utf8')));
    expect(log.lines).toContainEqual(
      expect.objectContaining({ msg: 'python: sending SIGKILL', pid: python_process.pid }),
    );
    expect(record.duration_ms).toBeLessThan(4000);
  });

  it('a cooperative handler sees ctx.cancelled and returns; what it returned stays in the record', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('cooperative'), killAfterMs: 6000 });
    const controller = new AbortController();
    const run = invoker.invokePipelineHandler('cooperative', {}, {}, { signal: controller.signal });
    await until(() => log.messages().includes('started'));
    controller.abort();
    const record = await run;
    expect(record).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
    const metadata = meta(record);
    // what the handler returned (how many loops it made before it saw ctx.cancelled: 0 or more)
    expect(metadata.iterations).toEqual(expect.any(Number));
    expect(metadata.python_process).toMatchObject({ exited: true, exit_code: 0, signal: null });
    expect(metadata.python_process.escalation.map((s: { step: string }) => s.step)).toEqual(['cancel']);
    expect(log.messages()).not.toContain('python: sending SIGINT');
  });

  it('a timeout: ctx.cancelled, then SIGINT raises KeyboardInterrupt; TIMED_OUT, and the record says so', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('interruptible'), killAfterMs: 900 });
    const record = await invoker.invokePipelineHandler('interruptible', {}, {}, { timeoutMs: 2500 });
    expect(record).toMatchObject({ status: 'TIMED_OUT', status_code: 504, handler_settled: true });
    const metadata = meta(record);
    expect(metadata.python_exception).toMatchObject({ type: 'KeyboardInterrupt', phase: 'handler' });
    expect(metadata.python_process).toMatchObject({ exited: true, exit_code: 0, stopped_by: 'timeout' });
    expect(metadata.python_process.escalation.map((s: { step: string }) => s.step)).toEqual(['cancel', 'SIGINT']);
    expect(log.messages()).toContain('started');
  });

  it('when the executor stops waiting first, the escalation still kills the process', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('stubborn'), killAfterMs: 1500 });
    const controller = new AbortController();
    const run = invoker.invokePipelineHandler('stubborn', {}, {}, { signal: controller.signal, cancelGraceMs: 200 });
    await until(() => log.messages().includes('ignoring cancellation'));
    controller.abort();
    const record = await run;
    expect(record).toMatchObject({ status: 'CANCELLED', handler_settled: false });
    // the process is still told, interrupted, terminated and killed after the record was written
    await until(() => log.messages().includes('python: sending SIGKILL'));
  });
});
