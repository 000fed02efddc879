import { join } from 'node:path';
import type { FakeWandb, WandbServerMode } from './helpers/wandb-server';
import { runScriptWithWandb } from './helpers/wandb-script';

// A user's script tracks runs with W&B on and then simply ends, or exits with process.exit: it
// runs as its own Node process against a W&B-protocol server on loopback. Real time here (a whole
// process); the assertions are bounds, nothing waits for an expiry.

const PROJECT = join(__dirname, '..', 'tsconfig.json');
/** What starting a thread, loading the SDK and answering on a busy machine may take beyond a timeout. */
const SLACK_MS = 4000;

let server: FakeWandb;
afterEach(() => server.stop());

/** A script that tracks `runs` runs through one tracker, prints their ids and `{"done":true}`, then `ending`. */
function script(runs: number, ending = '') {
  return `
    const { Redactor, WandbTracker, createLogger, trackingConfigFromEnv } = require('@pipeline-invocation/observability');
    const redactor = new Redactor(process.env);
    const tracker = new WandbTracker({ config: trackingConfigFromEnv(process.env), redactor, logger: createLogger({ redactor }) });
    (async () => {
      for (let i = 0; i < ${runs}; i++) {
        const run_id = '01JEXIT' + String(process.pid).padStart(8, '0') + String(i).padStart(11, '0');
        const record = { run_id, service: 'svc_exit', run_type: 'prod', status: 'SUCCEEDED', status_code: 200,
          body: 'ok', duration_ms: 5, timestamp: new Date().toISOString(), metadata: '{}', request_metadata: {} };
        await tracker.start({ record: { ...record, status: 'RUNNING' }, payload: { run_type: 'prod' } });
        tracker.log(run_id, { posts_labelled: i + 1 }, 0);
        await tracker.finish(record);
        console.log(JSON.stringify({ run_id }));
      }
      console.log(JSON.stringify({ done: true }));
      ${ending}
    })();
  `;
}

const run = (mode: WandbServerMode, source: string, timeoutMs: number) =>
  runScriptWithWandb(mode, source, timeoutMs, { project: PROJECT, started: (started) => (server = started) });

describe('a script with W&B on ends with its process', () => {
  it.each([1, 5])(
    'a script that tracks %i run(s) and simply ends exits by itself within the W&B timeout, W&B has every run',
    async (runs) => {
      const { killed, code, msAfterDone, runIds, seen, stderr } = await run('ok', script(runs), 10_000);
      expect({ killed, code, stderr }).toEqual({ killed: false, code: 0, stderr: '' });
      expect(msAfterDone).toBeLessThan(10_000);
      expect(runIds).toHaveLength(runs);
      seen.forEach((r, i) => {
        expect(r).toMatchObject({ complete: true, exitCode: 0, summary: { status: 'SUCCEEDED' } });
        expect(r!.history.map((h) => h.posts_labelled)).toContain(i + 1);
      });
    },
  );

  it('await tracker.flush() then process.exit(0): W&B has the run', async () => {
    const { code, runIds, seen } = await run('ok', script(1, 'await tracker.flush(); process.exit(0);'), 10_000);
    expect(code).toBe(0);
    expect(runIds).toHaveLength(1);
    expect(seen[0]).toMatchObject({ complete: true, exitCode: 0 });
  });

  it.each(['silent', 'fail', 'hang-finish'] as const)(
    'a W&B server that answers %s: the script still exits by itself within the timeout, with one warning',
    async (mode) => {
      const timeoutMs = 2000;
      const { killed, code, msAfterDone, runIds, stderr } = await run(mode, script(1), timeoutMs);
      expect({ killed, code }).toEqual({ killed: false, code: 0 });
      expect(runIds).toHaveLength(1); // the run itself went on: W&B is off its path
      expect(msAfterDone).toBeLessThan(timeoutMs + SLACK_MS);
      expect(stderr).toContain('W&B tracking is off for the rest of this process');
    },
  );
});
