#!/usr/bin/env node
// Release check: every handler package's manifest contract range must accept core's
// CONTRACT_VERSION, and its peer range on @pipeline-invocation/core must accept core's package
// version (npm refuses the workspace otherwise). Run by `nx release` before versioning, and by
// the tools tests. Exits 1 naming each package that would break.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const semver = createRequire(join(root, 'packages/invoker/package.json'))('semver');

export function checkContractRanges(workspace = root) {
  const versionSource = readFileSync(join(workspace, 'packages/core/src/version.ts'), 'utf8');
  const contract = /CONTRACT_VERSION\s*=\s*'([^']+)'/.exec(versionSource)?.[1];
  if (!contract) return [`cannot read CONTRACT_VERSION from packages/core/src/version.ts`];
  const coreVersion = JSON.parse(readFileSync(join(workspace, 'packages/core/package.json'), 'utf8')).version;
  const problems = [];
  for (const dir of readdirSync(join(workspace, 'packages'))) {
    const file = join(workspace, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    if (!manifest.pipelineInvocation) continue;
    const range = manifest.pipelineInvocation.contract;
    if (!semver.validRange(range) || !semver.satisfies(contract, range)) {
      problems.push(
        `${manifest.name}: its contract range "${range}" does not accept core's CONTRACT_VERSION ${contract}`,
      );
    }
    const peer = manifest.peerDependencies?.['@pipeline-invocation/core'];
    if (!peer || !semver.satisfies(coreVersion, peer)) {
      problems.push(
        `${manifest.name}: its peer range "${peer}" on @pipeline-invocation/core does not accept core's version ${coreVersion}`,
      );
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkContractRanges(process.argv[2] ?? root);
  for (const problem of problems) console.error(`check-contract-ranges: ${problem}`);
  if (problems.length === 0) console.log('check-contract-ranges: every handler accepts the current core');
  process.exit(problems.length ? 1 : 0);
}
