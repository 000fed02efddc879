'use strict';
// The check that a test run leaves nothing in the OS temp folder (jest.config.cjs's global setup
// and teardown). The setup makes one folder for the run and points TMPDIR at it, so every
// os.tmpdir() of the run goes there: jest's workers and the processes the tests start inherit it
// (a test that gives a child a made-up environment passes TMPDIR on, as the shared helpers do).
// The teardown lists what is still in it, removes it, and restores TMPDIR; whatever a test left
// is named on stderr, and under CI (CI=true, as .ci/run sets) the run fails. Tests make their
// folders with tempDir() (tests/support/temp-dir.ts), which removes them after each test file.
//
// The start bundles' code cache goes in the run's folder too (PIPELINE_CACHE_DIR, unless the one
// running the tests set it): a test run no longer writes the user's ~/.cache/pipeline-invocation.
// Untouched by this: jest's own cache (its folder is chosen before the setup runs) and the Node
// builds of scripts/node-matrix.mjs under $HOME (CI and the benches reuse them). redis-server is
// started without persistence and writes no files; playwright gives chromium a profile folder in
// the temp folder and removes it when the browser closes.
// A run that is interrupted (Ctrl-C, SIGTERM) removes its folder on the way out; one that is
// killed outright leaves it, and the next run removes such a folder once it is a day old and its
// process is gone.
const { mkdtempSync, readdirSync, rmSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const PREFIX = 'pipeline-test-';
/** A run's folder: the prefix, the pid of jest's main process, mkdtemp's six characters. */
const RUN_NAME = /^pipeline-test-(\d+)-\w{6}$/;
/** Set by setup for the teardown (both run in jest's main process): the run's folder. */
const RUN_DIR = 'PIPELINE_TEST_RUN_TMPDIR';
/** TMPDIR as it was before the run ('' when it was not set). */
const OUTER_TMPDIR = 'PIPELINE_TEST_OUTER_TMPDIR';
/** The run's code cache folder of the start bundles (in the run's folder), when setup chose it. */
const RUN_CACHE = 'PIPELINE_TEST_RUN_CACHE_DIR';
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Caches the tools make in the temp folder, not leftovers of a test: jest's (`jest_<uid>`, made by
 * a jest the tests run), @swc/core's native one (`swc-native-<uid>`, made by each process that
 * loads swc: it refuses a symlinked folder, so it cannot be pointed at the shared one) and Node's
 * compile cache (`node-compile-cache`: on Node 22+, TypeScript's tsc, which the generator tests
 * run, turns it on without a folder of its own), and the start bundles' code cache of the run
 * (`pipeline-cache`, see above). They last the run, and go with its folder.
 */
const TOOL_CACHES = /^(jest_[0-9a-z]+|swc-native-\d+|node-compile-cache|pipeline-cache)$/;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

const remove = (dir) => rmSync(dir, { recursive: true, force: true, maxRetries: 3 });

/** Folders of earlier runs that were killed before their teardown: a day old, their process gone. */
function removeAbandoned(parent, nowMs) {
  let names;
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = RUN_NAME.exec(name)?.[1];
    if (!pid || alive(Number(pid))) continue;
    try {
      if (nowMs - statSync(join(parent, name)).mtimeMs > DAY_MS) remove(join(parent, name));
    } catch {
      // gone already, or not ours to remove
    }
  }
}

let onExit;
const onSignal = {};

function setup() {
  if (process.env[RUN_DIR]) return; // already set up (jest run programmatically twice in one process)
  const parent = tmpdir();
  removeAbandoned(parent, Date.now());
  // short: unix socket paths made under it must stay within 107 bytes
  const run = mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
  process.env[OUTER_TMPDIR] = process.env.TMPDIR ?? '';
  process.env[RUN_DIR] = run;
  process.env.TMPDIR = run;
  if (!process.env.PIPELINE_CACHE_DIR) {
    process.env.PIPELINE_CACHE_DIR = join(run, 'pipeline-cache');
    process.env[RUN_CACHE] = process.env.PIPELINE_CACHE_DIR;
  }
  onExit = () => remove(run);
  process.once('exit', onExit);
  for (const signal of SIGNALS) {
    if (process.listenerCount(signal) > 0) continue; // someone else decides what this signal does
    onSignal[signal] = () => {
      remove(run);
      process.kill(process.pid, signal); // with no listener left: the default, as without us
    };
    process.once(signal, onSignal[signal]);
  }
}

/** Lists what the run left, removes it; throws under CI when something was left. */
function teardown() {
  const run = process.env[RUN_DIR];
  if (!run) return;
  const outer = process.env[OUTER_TMPDIR];
  if (outer) process.env.TMPDIR = outer;
  else delete process.env.TMPDIR;
  delete process.env[RUN_DIR];
  delete process.env[OUTER_TMPDIR];
  if (process.env[RUN_CACHE] && process.env.PIPELINE_CACHE_DIR === process.env[RUN_CACHE])
    delete process.env.PIPELINE_CACHE_DIR;
  delete process.env[RUN_CACHE];
  if (onExit) process.removeListener('exit', onExit);
  for (const [signal, listener] of Object.entries(onSignal)) {
    process.removeListener(signal, listener);
    delete onSignal[signal];
  }
  let left = [];
  try {
    left = readdirSync(run)
      .filter((name) => !TOOL_CACHES.test(name))
      .sort();
  } catch {
    // removed already
  }
  try {
    remove(run);
  } catch (error) {
    left.push(`(the folder itself: ${error.message})`); // e.g. a file system still mounted in it
  }
  if (!left.length) return;
  const shown = left.slice(0, 20).join(', ') + (left.length > 20 ? `, ... (${left.length - 20} more)` : '');
  const message =
    `the tests left ${left.length} file(s) or folder(s) in the temp folder (now removed): ${shown}. ` +
    'Make temporary folders with tempDir() from tests/support/temp-dir.ts, which removes them after the test file.';
  const ci = /^(1|true|yes)$/i.test(process.env.CI ?? '');
  if (ci) {
    const error = new Error(message);
    error.stack = ''; // the message says it all; the stack would be jest's
    throw error;
  }
  process.stderr.write(`\nnpm test: ${message}\n`);
}

module.exports = { setup, teardown };
