import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureServices, pythonInvoker } from './helpers';
import { tempDir } from '../../../tests/support/temp-dir';

const meta = (record: { metadata: string }) => JSON.parse(record.metadata) as Record<string, any>;

describe('a Python handler run in-process (real python3)', () => {
  it("returns the original's dict: status_code and body become the result, the other fields the record's metadata", async () => {
    const { invoker, store } = pythonInvoker({ services: fixtureServices('original_dict') });
    const first = await invoker.invokePipelineHandler(
      'original_dict',
      { run_type: 'backfill', n: 3 },
      { request_id: 'r1' },
    );
    expect(first).toMatchObject({
      status: 'SUCCEEDED',
      status_code: 200,
      body: 'Classification of latest posts completed successfully',
    });
    expect(meta(first)).toMatchObject({
      inference_type: 'sociopolitical',
      total_classified_posts: 3,
      event: { run_type: 'backfill', n: 3 },
      run_type: 'backfill',
      run_id: first.run_id,
      previous_status: null,
      request_metadata: { request_id: 'r1' },
      traceparent: null,
      remaining_ms_known: false,
    });
    // the second run sees the first as its previous run
    const second = await invoker.invokePipelineHandler('original_dict', { run_type: 'prod' });
    expect(meta(second).previous_status).toBe('SUCCEEDED');
    expect(store.all().map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    await invoker.close();
  });

  it('a RunExecutionMetadata-like object: its metadata JSON string becomes the metadata', async () => {
    const { invoker } = pythonInvoker({ services: fixtureServices('record_like') });
    const record = await invoker.invokePipelineHandler('record_like', { run_type: 'prod' });
    expect(record).toMatchObject({ status: 'SUCCEEDED', status_code: 200, body: 'done' });
    expect(meta(record)).toEqual({ total_classified_posts: 5 });
  });

  it('a status_code >= 400 records FAILED with that code', async () => {
    const { invoker } = pythonInvoker({ services: fixtureServices('failing_status') });
    const record = await invoker.invokePipelineHandler('failing_status', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 422, body: 'no posts to label' });
    expect(meta(record)).toEqual({ reason: 'empty queue' });
  });

  it('stdout, stderr and ctx.log become log lines of the run, secrets redacted; the channel is not disturbed', async () => {
    const secret = 'sk-live-1234567890abcdef';
    const { invoker, log } = pythonInvoker(
      { services: fixtureServices('printer') },
      {},
      { PERSPECTIVE_API_KEY: secret },
    );
    const record = await invoker.invokePipelineHandler('printer', { token: secret });
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'printed' });
    const lines = log.lines.filter((l) => l.run_id === record.run_id);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'hello from stdout, token [REDACTED]', stream: 'stdout', level: 30 }),
        expect.objectContaining({ msg: 'a second stdout line', stream: 'stdout' }),
        expect.objectContaining({ msg: 'warning on stderr', stream: 'stderr' }),
        expect.objectContaining({ msg: 'through ctx.log with args', logger: 'pipeline.printer', level: 30 }),
        expect.objectContaining({ msg: 'careful', level: 40 }),
        expect.objectContaining({ msg: "the team's own logger", logger: 'team.printer', level: 40 }),
        expect.objectContaining({ msg: 'shown once the handler sets INFO', logger: 'team.printer', level: 30 }),
      ]),
    );
    expect(JSON.stringify(log.lines)).not.toContain(secret);
    expect(log.messages()).not.toContain("not shown: the root logger's level is WARNING");
    expect(record.request_metadata).toBeDefined();
  });

  it('an exception: FAILED 500 with its type, message and last traceback frames in the body and metadata', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('raiser') });
    const record = await invoker.invokePipelineHandler('raiser', { value: 7 });
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain('Python service "raiser" (pipelines.handlers:raiser) raised ValueError: bad value 7');
    expect(record.body).toMatch(/handlers\.py", line \d+, in _inner/);
    const { python_exception, python_process } = meta(record);
    expect(python_exception).toMatchObject({ type: 'ValueError', message: 'bad value 7', phase: 'handler' });
    expect(python_exception.traceback).toContain('in raiser');
    expect(python_process).toMatchObject({ exited: true, exit_code: 0, signal: null });
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: expect.stringContaining('raised ValueError: bad value 7') }),
    );
  });

  it('progress and metrics reach the caller and the record', async () => {
    const { invoker, tracker } = pythonInvoker({ services: fixtureServices('progress') });
    const seen: [number, number][] = [];
    const record = await invoker.invokePipelineHandler('progress', {}, {}, { onProgress: (d, t) => seen.push([d, t]) });
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: '3 batches' });
    expect(seen).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(meta(record).metrics).toMatchObject({ posts_labelled: 30, accuracy: 0.75 });
    expect(tracker.calls.filter((c) => c.type === 'log').map((c) => (c as { metrics: object }).metrics)).toEqual([
      { posts_labelled: 10 },
      { posts_labelled: 20 },
      { posts_labelled: 30 },
      { accuracy: 0.75 },
    ]);
  });

  it('os._exit(3): FAILED naming exit code 3; what it printed first is logged', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('exit3') });
    const record = await invoker.invokePipelineHandler('exit3', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toBe(
      'Python service "exit3" (pipelines.handlers:exit3) exited with code 3 before it returned a result.',
    );
    expect(meta(record).python_process).toMatchObject({ exited: true, exit_code: 3, signal: null });
    expect(log.messages()).toContain('about to exit');
  });

  it('killed by SIGKILL from outside: FAILED naming the signal', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('sleeper') });
    const pidFile = join(tempDir('py-pid-'), 'pid');
    const run = invoker.invokePipelineHandler('sleeper', { pid_file: pidFile });
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '') await new Promise((r) => setTimeout(r, 20));
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const record = await run;
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain('was killed by SIGKILL (by another process, or by the out-of-memory killer)');
    expect(meta(record).python_process).toMatchObject({ exited: true, exit_code: null, signal: 'SIGKILL' });
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        run_id: record.run_id,
        msg: expect.stringContaining('was killed by SIGKILL'),
      }),
    );
  });

  it('a result that is not JSON: FAILED naming the field', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('not_json') });
    const record = await invoker.invokePipelineHandler('not_json', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain("returned an unusable result: result field 'when' is not JSON");
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: expect.stringContaining("result field 'when' is not JSON") }),
    );
  });

  it('dates become ISO strings and Decimals numbers, as a JavaScript Date would', async () => {
    const { invoker } = pythonInvoker({ services: fixtureServices('dated') });
    const record = await invoker.invokePipelineHandler('dated', {});
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'dated' });
    expect(meta(record)).toEqual({ when: '2026-12-06T18:00:00', day: '2026-12-06', score: 0.25 });
  });

  it('an unknown message on the channel is logged, never fatal', async () => {
    const { invoker, log } = pythonInvoker({ services: fixtureServices('unknown_message') });
    const record = await invoker.invokePipelineHandler('unknown_message', {});
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'still fine' });
    expect(log.messages()).toContain(
      'python channel: ignored an unknown message type "heartbeat2" (protocol v2; this host speaks v1)',
    );
  });
});

describe('a Python service that cannot start', () => {
  it('a missing module: FAILED naming the service, the entry point and the fix', async () => {
    const { invoker, log } = pythonInvoker({
      services: { ml_inference_ime: 'pipelines.no_such_module:lambda_handler' },
    });
    const record = await invoker.invokePipelineHandler('ml_inference_ime', { run_type: 'prod' });
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain(
      'Python service "ml_inference_ime" (pipelines.no_such_module:lambda_handler): its entry point cannot be loaded: ModuleNotFoundError: No module named \'pipelines.no_such_module\'',
    );
    expect(record.body).toContain('Fix: make "pipelines.no_such_module" importable by python3 from');
    expect(meta(record).python_exception).toMatchObject({ type: 'ModuleNotFoundError', phase: 'import' });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 50, msg: record.body }));
  });

  it('a missing interpreter: FAILED naming the service, the entry point, the interpreter and the fix', async () => {
    const { invoker, log } = pythonInvoker(
      { services: fixtureServices('noop') },
      { env: { PIPELINE_PYTHON: 'python-does-not-exist-3.99' } },
    );
    const record = await invoker.invokePipelineHandler('noop', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toBe(
      'Python service "noop" (pipelines.handlers:noop) could not start: the interpreter "python-does-not-exist-3.99" was not found. ' +
        'Install Python 3.9 or later, or set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter" in package.json) to its path.',
    );
    expect(meta(record).python_exception).toMatchObject({ type: 'InterpreterNotFound' });
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 50, msg: record.body }));
  });

  it('an entry point that is not callable: the fix says to point it at a function', async () => {
    const { invoker } = pythonInvoker({ services: fixtureServices('not_a_function') });
    const record = await invoker.invokePipelineHandler('not_a_function', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain('TypeError: pipelines.handlers:not_a_function is not callable');
    expect(record.body).toContain('Fix: point the entry point at a function handler(event, context).');
    expect(record.body).not.toContain('importable');
  });

  it('a function the module does not define: the fix names the function and the module', async () => {
    const { invoker } = pythonInvoker({ services: { svc: 'pipelines.handlers:no_such_function' } });
    const record = await invoker.invokePipelineHandler('svc', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain(
      "AttributeError: module 'pipelines.handlers' has no attribute 'no_such_function'. " +
        'Fix: define "no_such_function" in "pipelines.handlers", or correct the entry point.',
    );
  });

  it("a dependency the module imports is missing: the fix is the interpreter's environment, not the path", async () => {
    const { invoker, log } = pythonInvoker({ services: { svc: 'pipelines.needs_dependency:lambda_handler' } });
    const record = await invoker.invokePipelineHandler('svc', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain(
      'Fix: "pipelines.needs_dependency" imports "pipeline_test_dependency_not_installed", which python3 from',
    );
    expect(record.body).toContain('set PIPELINE_PYTHON');
    expect(record.body).not.toContain('importable');
    // the traceback is the user's line, not the import machinery's
    expect(record.body).toMatch(/Traceback \(last frames\):\n {2}File ".*needs_dependency\.py", line 1, in <module>\n/);
    expect(record.body).not.toContain('importlib');
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 50, msg: record.body }));
  });

  it('a module that does not parse: the record names its file and line', async () => {
    const { invoker } = pythonInvoker({ services: { svc: 'pipelines.broken_syntax:lambda_handler' } });
    const record = await invoker.invokePipelineHandler('svc', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain('SyntaxError');
    expect(record.body).toContain('Fix: fix the error raised while importing "pipelines.broken_syntax"');
    expect(record.body).toMatch(
      /File ".*broken_syntax\.py", line 4, in <module>\n {4}def lambda_handler\(event, context\)/,
    );
    expect(JSON.parse(record.metadata).python_exception).toMatchObject({ type: 'SyntaxError', phase: 'import' });
  });
});
