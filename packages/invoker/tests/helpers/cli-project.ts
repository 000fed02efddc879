import { join } from 'node:path';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { runCli, startCli } from './host-project';
import { tempDir } from '../../../../tests/support/temp-dir';

const STALE_AFTER_MS = 4000;
/**
 * Settings of a later process that is to judge a dead process's run stale: staleness is decided
 * by the reader's PIPELINE_STALE_AFTER_MS, so rather than sleep until 4 s have passed, the reader
 * is started with a limit (10 ms) that the dead process's last heartbeat is already past: it came
 * before the kill, and the reader reads it a whole process start later (Node's own start alone
 * takes longer; the limit must not depend on how fast our CLI starts).
 */
const SEES_STALE = { PIPELINE_HEARTBEAT_MS: '5', PIPELINE_STALE_AFTER_MS: '10' };
const stores: SqliteRunStore[] = [];
afterAll(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/**
 * A `pipeline` project for real-process tests in the host project at `root`: its own
 * PIPELINE_HOME (SQLite store read from the test), short heartbeats (100 ms, stale after 4 s:
 * well over a CLI start on a loaded machine, so "still fresh" holds), and helpers to start the
 * CLI and watch its runs.
 */
export function cliProject(root: string, service: string, env: Record<string, string> = {}) {
  const home = tempDir('pipeline-cli-');
  const fullEnv = {
    PIPELINE_HOME: home,
    PIPELINE_HEARTBEAT_MS: '100',
    PIPELINE_STALE_AFTER_MS: String(STALE_AFTER_MS),
    ...env,
  };
  const store = new SqliteRunStore(join(home, 'runs.db'));
  stores.push(store);
  /** Every run, oldest first. */
  const runs = async () => (await store.list({ limit: 100 })).items.reverse();
  return {
    env: fullEnv,
    store,
    runs,
    /** `pipeline invoke <service>` with `{mode}` as payload and `key` as idempotency key. */
    invoke: (mode: string, key: string) => [
      'invoke',
      service,
      '--payload',
      JSON.stringify({ mode }),
      '--idempotency-key',
      key,
    ],
    start: (args: string[], extra: Record<string, string> = {}) =>
      startCli(args, { cwd: root, env: { ...fullEnv, ...extra } }),
    cli: (args: string[], extra: Record<string, string> = {}) =>
      runCli(args, { cwd: root, env: { ...fullEnv, ...extra } }),
    /** Environment of a process for which the run of a process killed earlier is stale (see SEES_STALE). */
    seesStale: SEES_STALE,
    /** Wait until the store holds a RUNNING run (its handler is under way). */
    running: async (): Promise<RunExecutionMetadata> => {
      for (let i = 0; i < 400; i++) {
        const run = (await runs()).find((r) => r.status === 'RUNNING');
        if (run) return run;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('no RUNNING run appeared within 10 s');
    },
  };
}
