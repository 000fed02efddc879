import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fake W&B server behaves: `fail` answers 500 everywhere, `silent` never answers,
 * `hang-finish` answers everything but a run's final (`complete`) file-stream request.
 */
export type WandbServerMode = 'ok' | 'reject-upsert' | 'fail' | 'silent' | 'hang-finish';

/** A run as the server saw it. */
export interface SeenRun {
  project: string;
  entity: string;
  name: string;
  displayName: string | undefined;
  config: Record<string, unknown>;
  /** Parsed `wandb-history.jsonl` lines, in order. */
  history: Record<string, unknown>[];
  summary: Record<string, unknown>;
  exitCode: number | undefined;
  complete: boolean;
}

/**
 * A server on 127.0.0.1 speaking the parts of the W&B protocol `@wandb/sdk` 0.5.1 uses:
 * GraphQL `Viewer` and `UpsertBucket` on `/graphql`, and `POST /files/{entity}/{project}/{run}/file_stream`.
 */
export interface FakeWandb {
  readonly baseUrl: string;
  mode: WandbServerMode;
  readonly runs: Map<string, SeenRun>;
  /** Every request's raw body and headers (for secret greps). */
  readonly requests: { url: string; headers: IncomingMessage['headers']; body: string }[];
  stop(): Promise<void>;
}

export async function startFakeWandb(mode: WandbServerMode = 'ok'): Promise<FakeWandb> {
  const runs = new Map<string, SeenRun>();
  const requests: FakeWandb['requests'] = [];
  const hanging = new Set<ServerResponse>();
  const state = { mode };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body });
      if (state.mode === 'silent') {
        hanging.add(res);
        return;
      }
      if (state.mode === 'fail') return send(res, 500, { error: 'internal error' });
      if (req.url === '/graphql') return graphql(JSON.parse(body), res);
      const match = /^\/files\/([^/]+)\/([^/]+)\/([^/]+)\/file_stream$/.exec(req.url ?? '');
      if (match) return fileStream(match[2]!, match[3]!, JSON.parse(body), res);
      send(res, 404, { error: 'not found' });
    });
  });

  function graphql({ query, variables }: { query: string; variables: Record<string, unknown> }, res: ServerResponse) {
    if (query.includes('query Viewer')) {
      return send(res, 200, {
        data: { viewer: { id: 'u1', entity: 'test-entity', flags: '{}', teams: { edges: [] } } },
      });
    }
    if (query.includes('mutation UpsertBucket')) {
      if (state.mode === 'reject-upsert') return send(res, 403, { errors: [{ message: 'permission denied' }] });
      const name = String(variables.name);
      const project = String(variables.project);
      runs.set(`${project}/${name}`, {
        project,
        entity: String(variables.entity),
        name,
        displayName: variables.displayName as string | undefined,
        config: JSON.parse(String(variables.config ?? '{}')),
        history: [],
        summary: {},
        exitCode: undefined,
        complete: false,
      });
      return send(res, 200, {
        data: {
          upsertBucket: {
            bucket: {
              id: 'b1',
              name,
              displayName: variables.displayName,
              description: null,
              config: variables.config,
              sweepName: null,
              project: { id: 'p1', name: project, entity: { id: 'e1', name: variables.entity } },
            },
            inserted: true,
          },
        },
      });
    }
    send(res, 400, { errors: [{ message: 'unknown query' }] });
  }

  function fileStream(project: string, name: string, body: Record<string, any>, res: ServerResponse) {
    const run = runs.get(`${project}/${name}`);
    if (!run) return send(res, 404, { error: 'run not found' });
    if (body.complete && state.mode === 'hang-finish') {
      hanging.add(res);
      return;
    }
    for (const [file, chunk] of Object.entries((body.files ?? {}) as Record<string, { content: string[] }>)) {
      if (file === 'wandb-history.jsonl') run.history.push(...chunk.content.map((line) => JSON.parse(line)));
      if (file === 'wandb-summary.json') run.summary = JSON.parse(chunk.content.at(-1) ?? '{}');
    }
    if (body.complete) {
      run.complete = true;
      run.exitCode = body.exitcode;
    }
    send(res, 200, {});
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(value: WandbServerMode) {
      state.mode = value;
    },
    runs,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
