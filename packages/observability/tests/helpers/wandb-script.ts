import { runScript, type ScriptResult } from './child-script';
import { startFakeWandb, type FakeWandb, type WandbServerMode } from './wandb-server';

/** A script's run against a W&B-protocol server, with the runs the server holds for its run ids. */
export interface WandbScriptResult extends ScriptResult {
  /** The JSON lines the script printed with a `run_id`, in order. */
  readonly records: Record<string, unknown>[];
  /** Their `run_id`s. */
  readonly runIds: string[];
  /** What the W&B server holds for each of them (`svc_exit/<run id>`), undefined where nothing. */
  readonly seen: ReturnType<FakeWandb['runs']['get']>[];
}

/**
 * Start a W&B-protocol server on loopback in `mode`, then run `source` as a user's script with W&B
 * on against it (API key set, `PIPELINE_WANDB_TIMEOUT_MS` = `timeoutMs`, warnings only).
 * `started(server)` is called before the script starts, so the caller can stop the server after
 * the test whatever happens.
 */
export async function runScriptWithWandb(
  mode: WandbServerMode,
  source: string,
  timeoutMs: number,
  { project, started }: { project: string; started: (server: FakeWandb) => void },
): Promise<WandbScriptResult> {
  const server = await startFakeWandb(mode);
  started(server);
  const result = await runScript(
    source,
    {
      WANDB_API_KEY: 'wandb-secret-key-0123456789',
      WANDB_BASE_URL: server.baseUrl,
      PIPELINE_WANDB_TIMEOUT_MS: String(timeoutMs),
      LOG_LEVEL: 'warn',
    },
    { project },
  );
  const records = result.lines.filter((line) => typeof line.run_id === 'string');
  const runIds = records.map((line) => String(line.run_id));
  const seen = runIds.map((id) => server.runs.get(`svc_exit/${id.toLowerCase()}`));
  return { ...result, records, runIds, seen };
}
