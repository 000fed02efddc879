// `pipeline runs` run from a subfolder of the project finds the store `pipeline invoke` wrote at
// its root (plugins are found from the root's package.json; so is the store now).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';

const root = createHostProject([cjsPlugin('project-plugin', ['project_service'])]);
const sub = join(root, 'scripts', 'nightly');
mkdirSync(sub, { recursive: true });

it('pipeline runs from a subfolder lists the runs of the project, and creates no store there', async () => {
  const invoked = await runCli(['invoke', 'project_service', '--payload', '{"run_type":"prod"}', '--json'], {
    cwd: sub,
  });
  expect(invoked.code).toBe(0);
  const record = JSON.parse(invoked.stdout);
  expect(record.metadata_table_name).toBe(join(root, '.pipeline', 'runs.db'));
  const fromRoot = await runCli(['runs', '--json', '--service', 'project_service'], { cwd: root });
  expect(JSON.parse(fromRoot.stdout).items.map((r: { run_id: string }) => r.run_id)).toEqual([record.run_id]);
  const fromSub = await runCli(['runs', '--json', '--service', 'project_service'], { cwd: sub });
  expect(JSON.parse(fromSub.stdout).items.map((r: { run_id: string }) => r.run_id)).toEqual([record.run_id]);
  expect(existsSync(join(sub, '.pipeline'))).toBe(false);
});
