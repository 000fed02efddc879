import { join } from 'node:path';
import type { FakeWandb, WandbServerMode } from '../../observability/tests/helpers/wandb-server';
import { runScriptWithWandb } from '../../observability/tests/helpers/wandb-script';

// The seed library's callers: a plain script that awaits invokePipelineHandler with W&B on, then
// ends (or calls process.exit). Each script is its own Node process, with the default invoker (a
// SQLite store under PIPELINE_HOME) and a W&B-protocol server on loopback. Real time (a whole
// process); the assertions are bounds, nothing waits for an expiry.

const PROJECT = join(__dirname, '..', 'tsconfig.json');
/** What starting a thread, loading the SDK and answering on a busy machine may take beyond a timeout. */
const SLACK_MS = 4000;

let server: FakeWandb;
afterEach(() => server.stop());

/** A script that runs `svc_exit` `runs` times, prints each record and `{"done":true}`, then `ending`. */
function script(runs: number, ending = '') {
  return `
    const { PipelineHandlerRegistry } = require('@pipeline-invocation/core');
    const { invokePipelineHandler, flushTracking, defaultInvoker } = require('@pipeline-invocation/invoker');
    PipelineHandlerRegistry.register('svc_exit', () => ({
      handle: (event, context) => {
        context.metrics.log({ posts_labelled: 7 });
        return { statusCode: 200, body: 'ok' };
      },
    }));
    (async () => {
      for (let i = 0; i < ${runs}; i++) {
        const record = await invokePipelineHandler('svc_exit', { run_type: 'prod' }, { request_id: 'r' + i });
        console.log(JSON.stringify({ run_id: record.run_id, status: record.status }));
      }
      console.log(JSON.stringify({ done: true }));
      ${ending}
    })();
  `;
}

const run = (mode: WandbServerMode, source: string, timeoutMs: number) =>
  runScriptWithWandb(mode, source, timeoutMs, { project: PROJECT, started: (started) => (server = started) });

describe('invokePipelineHandler with W&B on, in a script that ends', () => {
  it.each([1, 5])(
    'a script that awaits %i run(s) and simply ends exits by itself within the W&B timeout; W&B has every run',
    async (runs) => {
      const { killed, code, msAfterDone, records, seen, stderr } = await run('ok', script(runs), 10_000);
      expect({ killed, code, stderr }).toEqual({ killed: false, code: 0, stderr: '' });
      expect(msAfterDone).toBeLessThan(10_000);
      expect(records.map((r) => r.status)).toEqual(Array(runs).fill('SUCCEEDED'));
      for (const r of seen) {
        expect(r).toMatchObject({ complete: true, exitCode: 0, summary: { status: 'SUCCEEDED', status_code: 200 } });
        expect(r!.history.map((h) => h.posts_labelled)).toContain(7);
      }
    },
  );

  it.each([
    ['await flushTracking()', 'await flushTracking(); process.exit(0);'],
    ['await defaultInvoker().close()', 'await defaultInvoker().close(); process.exit(0);'],
  ])('%s then process.exit(0): W&B has the run', async (_, ending) => {
    const { code, records, seen } = await run('ok', script(1, ending), 10_000);
    expect(code).toBe(0);
    expect(records).toHaveLength(1);
    expect(seen[0]).toMatchObject({ complete: true, exitCode: 0 });
  });

  it.each(['silent', 'fail'] as const)(
    'a W&B server that answers %s: the script exits by itself within the timeout and the run succeeded',
    async (mode) => {
      const timeoutMs = 2000;
      const { killed, code, msAfterDone, records, stderr } = await run(mode, script(1), timeoutMs);
      expect({ killed, code }).toEqual({ killed: false, code: 0 });
      expect(records.map((r) => r.status)).toEqual(['SUCCEEDED']);
      expect(msAfterDone).toBeLessThan(timeoutMs + SLACK_MS);
      expect(stderr).toContain('W&B tracking is off for the rest of this process');
    },
  );
});
