import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { dashboard } from '../src/cli';
import { startDashboard } from '../src';
import { tempDir } from '../../../tests/support/temp-dir';

const dir = tempDir('dashboard-help-');

it('--help names every loopback host, and the dashboard starts on each of them without a token', async () => {
  const out: string[] = [];
  const io = { out: (text: string) => void out.push(text), err: () => {}, errIsTty: false, env: {}, cwd: dir };
  expect(await dashboard(['--help'], io)).toBe(0);
  expect(out.join('')).toContain('On loopback (127.0.0.1, localhost or ::1) it needs no token');
  const store = new SqliteRunStore(join(dir, 'runs.db'));
  try {
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const running = await startDashboard({ store, host, port: 0, pollMs: 60_000 });
      await running.close();
    }
    // and any other host does not start without one
    await expect(startDashboard({ store, host: '0.0.0.0', port: 0, pollMs: 60_000 })).rejects.toMatchObject({
      name: 'ConfigError',
    });
  } finally {
    await store.close();
  }
});

it('pipeline doctor describes PIPELINE_DASHBOARD_TOKEN as --help does: required off loopback only', () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, '../package.json'), 'utf8'));
  const token = manifest.pipelineInvocationEnv.find((v: { name: string }) => v.name === 'PIPELINE_DASHBOARD_TOKEN');
  expect(token).toMatchObject({
    secret: true,
    description: expect.stringContaining(
      'required to serve off loopback (a host other than 127.0.0.1, localhost or ::1)',
    ),
  });
});
