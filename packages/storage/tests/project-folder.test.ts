import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectFolder, sqliteFile, storageConfigFromEnv } from '../src';
import { tempDir } from '../../../tests/support/temp-dir';

const project = tempDir('project-folder-');
const sub = join(project, 'scripts', 'nightly');
mkdirSync(sub, { recursive: true });
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host', dependencies: {} }));

describe('the run store lives in the project folder, not the working directory', () => {
  it('from a subfolder, the default store is the one at the project root', () => {
    expect(projectFolder({}, sub)).toBe(project);
    const fromRoot = storageConfigFromEnv({}, project);
    const fromSub = storageConfigFromEnv({}, sub);
    expect(sqliteFile(fromSub)).toBe(join(project, '.pipeline', 'runs.db'));
    expect(fromSub).toEqual(fromRoot);
  });

  it('PIPELINE_ROOT names the project; a relative PIPELINE_HOME or PIPELINE_OUTBOX starts there', () => {
    const config = storageConfigFromEnv(
      { PIPELINE_ROOT: project, PIPELINE_HOME: 'data', PIPELINE_OUTBOX: 'o.jsonl' },
      sub,
    );
    expect(config.home).toBe(join(project, 'data'));
    expect(config.outbox).toBe(join(project, 'o.jsonl'));
  });

  it('an absolute PIPELINE_HOME is kept; with no package.json anywhere up, the working directory is the project', () => {
    expect(storageConfigFromEnv({ PIPELINE_HOME: '/srv/pipeline' }, sub).home).toBe('/srv/pipeline');
    expect(projectFolder({}, '/')).toBe('/');
  });
});
