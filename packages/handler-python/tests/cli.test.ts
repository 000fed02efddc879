import { join } from 'node:path';
import { runCli, startCli } from '../../invoker/tests/helpers/host-project';
import { pythonHostProject } from './host-project';
import { tempDir } from '../../../tests/support/temp-dir';

const home = tempDir('python-cli-home-');

const team = pythonHostProject({
  services: {
    ml_inference_sociopolitical: 'pipelines.handlers:original_dict',
    preprocess_raw_data: {
      entry: 'pipelines.handlers:raiser',
      payloadSchema: {
        type: 'object',
        properties: { run_type: { enum: ['prod', 'backfill'] } },
        required: ['run_type'],
      },
    },
    exits: 'pipelines.handlers:exit3',
    cooperative: 'pipelines.handlers:cooperative',
  },
});
const broken = pythonHostProject({ services: { ml_inference_ime: 'pipelines.ime.handler:lambda_handler' } });
const badEntry = pythonHostProject({ services: { good: 'pipelines.handlers:noop', bad: 'no colon here' } });
const notAMap = pythonHostProject({ services: ['a'] });
const cli = (args: string[], env: Record<string, string> = {}, root = team.root) =>
  runCli(args, { cwd: root, env: { PIPELINE_HOME: home, ...env } });

describe('pipeline list and doctor with Python services in the host package.json', () => {
  it('list shows the configured services without starting Python', async () => {
    const { code, stdout } = await cli(['list', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(
      ['cooperative', 'exits', 'ml_inference_sociopolitical', 'preprocess_raw_data'].map((service) => ({
        service,
        package: '@pipeline-invocation/handler-python',
        version: '0.1.0',
        contract: '^1.0.0',
      })),
    );
    expect(team.pythonStarted()).toBe(false);
  });

  it('doctor finds the interpreter and every entry point without running a handler', async () => {
    const { code, stdout } = await cli(['doctor', '--json']);
    const checks = JSON.parse(stdout).checks as { name: string; ok: boolean; detail: string }[];
    const python = checks.filter((c) => c.name.startsWith('@pipeline-invocation/handler-python'));
    expect(python.map((c) => [c.name.split(': ')[1], c.ok])).toEqual([
      ['python services', true],
      ['ml_inference_sociopolitical', true],
      ['preprocess_raw_data', true],
      ['exits', true],
      ['cooperative', true],
    ]);
    expect(python[1]!.detail).toMatch(/^pipelines\.handlers:original_dict found \(.*pipelines\/handlers\.py\)$/);
    expect(code).toBe(0);
  });

  it('doctor names a missing module with its service, entry point and fix; a missing interpreter too', async () => {
    const missingModule = await cli(['doctor'], {}, broken.root);
    expect(missingModule.code).toBe(1);
    expect(missingModule.stdout).toMatch(
      /\[FAIL\] @pipeline-invocation\/handler-python: ml_inference_ime: pipelines\.ime\.handler:lambda_handler: ModuleNotFoundError: No module named 'pipelines\.ime': make "pipelines\.ime\.handler" importable by .* from .*\(set "pipelineInvocation\.python\.cwd" or "pythonPath" in package\.json\)/,
    );
    const noInterpreter = await cli(['doctor'], { PIPELINE_PYTHON: 'python-missing-9' }, broken.root);
    expect(noInterpreter.code).toBe(1);
    expect(noInterpreter.stdout).toContain(
      '[FAIL] @pipeline-invocation/handler-python: python services: the interpreter "python-missing-9" was not found (services ml_inference_ime cannot run): install Python 3.9 or later, or set PIPELINE_PYTHON',
    );
  });

  it('a bad configuration: list reports it, invoke exits 2 naming the field', async () => {
    const listed = await cli(['list'], {}, badEntry.root);
    expect(listed.stderr).not.toContain('skipped'); // the names are fine; the entry is checked on load
    const run = await cli(['invoke', 'good', '--json'], {}, badEntry.root);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('pipelineInvocation.python.services.bad="no colon here" is invalid'),
    });
    const listedBad = await cli(['list'], {}, notAMap.root);
    expect(listedBad.stderr).toContain(
      'skipped @pipeline-invocation/handler-python: "pipelineInvocation.python.services" in',
    );
  });
});

describe('pipeline invoke of Python services', () => {
  it("runs the original's handler: exit 0, the record on stdout", async () => {
    const { code, stdout } = await cli([
      'invoke',
      'ml_inference_sociopolitical',
      '--payload',
      '{"run_type":"prod","n":4}',
      '--json',
    ]);
    expect(code).toBe(0);
    const record = JSON.parse(stdout);
    expect(record).toMatchObject({ service: 'ml_inference_sociopolitical', status: 'SUCCEEDED', status_code: 200 });
    expect(JSON.parse(record.metadata)).toMatchObject({ total_classified_posts: 4, run_type: 'prod' });
  });

  it('a raising handler: exit 1, FAILED with the traceback, the error logged on stderr', async () => {
    const { code, stdout, stderr } = await cli(
      ['invoke', 'preprocess_raw_data', '--payload', '{"run_type":"prod","value":1}', '--json'],
      { LOG_LEVEL: 'info' },
    );
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(stderr).toContain('raised ValueError: bad value 1');
  });

  it('a payload its JSON Schema refuses: exit 2, nothing run', async () => {
    const { code, stdout } = await cli([
      'invoke',
      'preprocess_raw_data',
      '--payload',
      '{"run_type":"daily"}',
      '--json',
    ]);
    expect(code).toBe(2);
    expect(JSON.parse(stdout).error).toMatchObject({
      name: 'InvalidRequestError',
      message: expect.stringContaining('run_type'),
    });
  });

  it('os._exit(3): exit 1, FAILED naming exit code 3', async () => {
    const { code, stdout } = await cli(['invoke', 'exits', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout).body).toContain('exited with code 3 before it returned a result');
  });

  it('--timeout: ctx.cancelled, the handler returns what it did, TIMED_OUT, exit 1', async () => {
    const { code, stdout, stderr } = await cli(['invoke', 'cooperative', '--timeout', '2500', '--json'], {
      LOG_LEVEL: 'info',
    });
    expect(code).toBe(1);
    const record = JSON.parse(stdout);
    expect(record).toMatchObject({ status: 'TIMED_OUT', status_code: 504, handler_settled: true });
    const metadata = JSON.parse(record.metadata);
    expect(metadata.iterations).toBeGreaterThan(0);
    expect(metadata.python_process).toMatchObject({ exited: true, exit_code: 0, stopped_by: 'timeout' });
    expect(stderr).toContain('python: telling the handler to stop (ctx.cancelled)');
  });

  it('Ctrl-C on pipeline invoke: ctx.cancelled, the handler returns, CANCELLED, exit 130', async () => {
    const run = startCli(['invoke', 'cooperative', '--json'], {
      cwd: team.root,
      env: { PIPELINE_HOME: home, LOG_LEVEL: 'info' },
    });
    let stderr = '';
    run.child.stderr!.on('data', (d) => (stderr += d));
    while (!stderr.includes('"msg":"started"')) await new Promise((r) => setTimeout(r, 20));
    run.child.kill('SIGINT');
    const { code, stdout } = await run.result;
    expect(code).toBe(130);
    const record = JSON.parse(stdout);
    expect(record).toMatchObject({ status: 'CANCELLED', status_code: 499, handler_settled: true });
    expect(JSON.parse(record.metadata).python_process).toMatchObject({
      exited: true,
      exit_code: 0,
      stopped_by: 'cancel',
    });
    expect(stderr).toContain('python: telling the handler to stop (ctx.cancelled)');
  });
});
