import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

const root = createHostProject([cjsPlugin('echo-plugin', ['echo_service'])]);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('secrets never appear in anything a run writes', () => {
  it('with every secret variable set to a marker: stdout, stderr, run records, offline W&B files, outbox', async () => {
    const home = tempDir('secrets-home-');
    const marker = (name: string) => `MARKER-${name}-7f3a9c`;
    const secrets = [
      'WANDB_API_KEY',
      'PERSPECTIVE_API_KEY',
      'GOOGLE_API_KEY',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
    ];
    const env: Record<string, string> = { PIPELINE_HOME: home, WANDB_MODE: 'offline', LOG_LEVEL: 'debug' };
    for (const name of secrets) env[name] = marker(name);
    // The payload and metadata carry secrets as values and under secret-looking keys; the
    // fixture handler echoes its payload into the record's metadata.
    const payload = JSON.stringify({
      run_type: 'prod',
      api_key: 'inline-secret-abc',
      note: `key=${marker('PERSPECTIVE_API_KEY')}`,
    });
    const metadata = JSON.stringify({
      request_id: 'r-secret',
      authorization: 'Bearer inline-token-xyz',
      echo: marker('WANDB_API_KEY'),
    });
    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const result = await runCli(args, { cwd: root, env });
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const invoked = await run(['invoke', 'echo_service', '--payload', payload, '--metadata', metadata, '--json']);
    expect(invoked.code).toBe(0);
    const record = JSON.parse(invoked.stdout);
    expect(JSON.parse(record.metadata).echo).toMatchObject({ api_key: '[REDACTED]', note: 'key=[REDACTED]' });
    expect(record.request_metadata).toMatchObject({ authorization: '[REDACTED]', echo: '[REDACTED]' });
    await run(['invoke', 'echo_service', '--payload', '{"mode":"fail"}', '--metadata', metadata]);
    await run(['runs', '--json']);
    await run(['show', record.run_id]);
    await run(['doctor', '--json']);
    await run(['doctor']);
    await run(['outbox', '--json']);

    const written = filesUnder(home);
    expect(written.some((f) => f.includes(`${join('wandb', record.run_id)}.jsonl`))).toBe(true);
    expect(written.some((f) => f.endsWith('runs.db'))).toBe(true);
    const everything = [...outputs, ...written.map((f) => readFileSync(f).toString('latin1'))].join('\n');
    for (const name of secrets) expect(everything).not.toContain(marker(name));
    expect(everything).not.toContain('inline-secret-abc');
    expect(everything).not.toContain('inline-token-xyz');
  }, 60_000);
});
