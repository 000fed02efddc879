import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHostProject } from '../../invoker/tests/helpers/host-project';
import { FIXTURES } from './helpers';

const PACKAGE_DIR = resolve(__dirname, '..');

/**
 * A host project in a temporary folder that depends on handler-python and configures
 * `pipelineInvocation.python` (the fixture package `pipelines` sits in its folder). Its
 * `python3` wrapper (`interpreter`) leaves a mark each time Python is started.
 */
export function pythonHostProject(python: Record<string, unknown>) {
  const root = createHostProject([]);
  mkdirSync(join(root, 'node_modules/@pipeline-invocation'), { recursive: true });
  symlinkSync(PACKAGE_DIR, join(root, 'node_modules/@pipeline-invocation/handler-python'), 'dir');
  symlinkSync(join(FIXTURES, 'pipelines'), join(root, 'pipelines'), 'dir');
  const marks = join(root, 'python-started');
  const interpreter = join(root, 'python-wrapper');
  writeFileSync(interpreter, `#!/bin/sh\necho "$$" >> "${marks}"\nexec python3 "$@"\n`);
  chmodSync(interpreter, 0o755);
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify(
      {
        name: 'python-team',
        private: true,
        dependencies: { '@pipeline-invocation/handler-python': '0.1.0' },
        pipelineInvocation: { python: { interpreter, ...python } },
      },
      null,
      2,
    ),
  );
  return { root, pythonStarted: () => existsSync(marks) };
}
