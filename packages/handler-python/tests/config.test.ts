import { pythonPlugin, resolvePythonConfig } from '../src';
import { FIXTURES, fixtureServices, pythonInvoker } from './helpers';

const schema = {
  type: 'object',
  properties: {
    run_type: { enum: ['prod', 'backfill'] },
    backfill_period: { enum: ['days', 'hours'] },
    backfill_duration: { type: 'integer', minimum: 1 },
  },
  required: ['run_type'],
};

describe('a service with a JSON Schema payloadSchema', () => {
  it('refuses a payload its schema rejects before Python starts, naming the field', async () => {
    const { invoker, store, log } = pythonInvoker({
      services: {
        ml_inference_valence_classifier: { entry: 'pipelines.handlers:original_dict', payloadSchema: schema },
      },
    });
    await expect(
      invoker.invokePipelineHandler('ml_inference_valence_classifier', { run_type: 'backfill', backfill_duration: 0 }),
    ).rejects.toMatchObject({
      name: 'InvalidRequestError',
      message: expect.stringContaining('backfill_duration'),
    });
    await expect(invoker.checkRequest('ml_inference_valence_classifier', {})).rejects.toThrow('run_type');
    // nothing ran: no record, no Python process started
    expect(store.all()).toEqual([]);
    expect(log.messages().some((m) => m.startsWith('python '))).toBe(false);
    const ok = await invoker.invokePipelineHandler('ml_inference_valence_classifier', {
      run_type: 'backfill',
      backfill_period: 'days',
      backfill_duration: 2,
    });
    expect(ok).toMatchObject({ status: 'SUCCEEDED', status_code: 200 });
  });
});

describe('the pipelineInvocation.python configuration', () => {
  it('an entry point without ":function" is refused, naming the field and the expected form', () => {
    expect(() =>
      pythonPlugin({ services: { preprocess_raw_data: 'pipelines.preprocess' } }, { dir: FIXTURES }),
    ).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        message: expect.stringMatching(
          /^pipelineInvocation\.python\.services\.preprocess_raw_data="pipelines\.preprocess" is invalid: .*module\.path:function/,
        ),
      }),
    );
  });

  it('an unknown option is an error; so is an empty services map', () => {
    expect(() => resolvePythonConfig({ services: { a: 'm:f' }, interpreterr: 'python3' }, FIXTURES)).toThrow(
      /pipelineInvocation\.python.*interpreterr/,
    );
    expect(() => resolvePythonConfig({ services: {} }, FIXTURES)).toThrow(
      /pipelineInvocation\.python\.services=\{\} is invalid: list at least one service/,
    );
  });

  it('a misspelt option is named in the path with the accepted ones; a bad service entry names its field', () => {
    expect(() => resolvePythonConfig({ services: { a: 'm:f' }, interpeter: 'python3' }, FIXTURES)).toThrow(
      'pipelineInvocation.python.interpeter="python3" is invalid: is not an option here (accepted: services, interpreter, cwd, pythonPath, killAfterMs)',
    );
    expect(() => resolvePythonConfig({ services: { a: { entry: 'm:f', example: [] } } }, FIXTURES)).toThrow(
      'pipelineInvocation.python.services.a.example=[] is invalid: is not an option here (accepted: entry, payloadSchema, examples)',
    );
    expect(() => resolvePythonConfig({ services: { a: { entry: 'm:f', examples: 'nope' } } }, FIXTURES)).toThrow(
      'pipelineInvocation.python.services.a.examples="nope" is invalid: Invalid input: expected array, received string',
    );
    expect(() => resolvePythonConfig({ services: { a: 5 } }, FIXTURES)).toThrow(
      'pipelineInvocation.python.services.a=5 is invalid: must be an entry point "module.path:function" or an object',
    );
  });

  it('a payloadSchema zod cannot convert is refused, naming the service', () => {
    expect(() =>
      resolvePythonConfig({ services: { a: { entry: 'm:f', payloadSchema: { type: 'objectx' } } } }, FIXTURES),
    ).toThrow(
      /pipelineInvocation\.python\.services\.a\.payloadSchema=.* is invalid: not a JSON Schema .*Unsupported type: objectx/,
    );
  });

  it('relative cwd and pythonPath are resolved from the host folder; PIPELINE_PYTHON_KILL_AFTER_MS is checked', async () => {
    const config = resolvePythonConfig({ services: { a: 'm:f' }, cwd: 'pipelines', pythonPath: ['lib'] }, '/srv/app');
    expect(config).toMatchObject({ cwd: '/srv/app/pipelines', pythonPath: ['/srv/app/lib'], interpreter: 'python3' });
    const { invoker } = pythonInvoker(
      { services: { noop: 'pipelines.handlers:noop' } },
      { env: { PIPELINE_PYTHON_KILL_AFTER_MS: 'soon' } },
    );
    const record = await invoker.invokePipelineHandler('noop', {});
    expect(record).toMatchObject({ status: 'FAILED', status_code: 400 });
    expect(record.body).toContain('PIPELINE_PYTHON_KILL_AFTER_MS="soon" is invalid');
  });

  it('the check (pipeline doctor) flags an invalid PIPELINE_PYTHON_KILL_AFTER_MS and a kill time past the cancel grace', async () => {
    const plugin = pythonPlugin({ services: fixtureServices('noop') }, { dir: FIXTURES });
    const [invalid] = await plugin.check({ PIPELINE_PYTHON_KILL_AFTER_MS: 'soon' });
    expect(invalid).toEqual({
      name: 'python services',
      ok: false,
      detail: expect.stringContaining('PIPELINE_PYTHON_KILL_AFTER_MS="soon" is invalid'),
    });
    const [late] = await plugin.check({ PIPELINE_PYTHON_KILL_AFTER_MS: '12000' });
    expect(late).toMatchObject({ ok: false });
    expect(late!.detail).toContain('killed 12000 ms after the abort (PIPELINE_PYTHON_KILL_AFTER_MS)');
    expect(late!.detail).toContain('cancel grace of 10000 ms');
    const [fine] = await plugin.check({ PIPELINE_PYTHON_KILL_AFTER_MS: '12000', PIPELINE_CANCEL_GRACE_MS: '15000' });
    expect(fine).toMatchObject({ name: 'python services', ok: true });
  });

  it('the check names the fix when the interpreter is not Python at all', async () => {
    const plugin = pythonPlugin({ services: fixtureServices('noop') }, { dir: FIXTURES });
    const [head] = await plugin.check({ PIPELINE_PYTHON: '/bin/true' });
    expect(head).toEqual({
      name: 'python services',
      ok: false,
      detail:
        '"/bin/true" did not answer as Python does (exit code 0): set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter") to a Python 3.9 or later interpreter',
    });
  });
});
