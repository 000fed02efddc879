import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import {
  ConfigError,
  InvalidRequestError,
  RunStatusSchema,
  runIdFloor,
  statusCodeForError,
  systemClock,
  type Clock,
  type RunExecutionMetadata,
  type RunStore,
} from '@pipeline-invocation/core';
import { LOOPBACK_HOSTS, givenToken, isLoopbackHost, sameToken } from './access';
import { overview } from './overview';

/** A schedule as the dashboard shows it (what `pipeline schedule list` prints). */
export interface DashboardSchedule {
  id: string;
  service: string;
  cron?: string;
  tz?: string;
  every_ms?: number;
  next_run_at?: string;
}

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** The run store to read (never written). */
  store: RunStore;
  /** Default 127.0.0.1. Any other host needs `token`. */
  host?: string;
  /** Default 4280; 0 picks a free port. */
  port?: number;
  /** Required off loopback (`PIPELINE_DASHBOARD_TOKEN`): every request must carry it. */
  token?: string;
  /** The schedules to list (the worker's, when it is installed and Redis is configured). */
  schedules?: () => Promise<DashboardSchedule[]>;
  /** How often new and finished runs are looked for, for the live page (ms; default 1000). */
  pollMs?: number;
  /** The one clock: the overview's "last 24 h" and the live poll run on it (default: the system's). */
  clock?: Clock;
}

/** A running dashboard. */
export interface Dashboard {
  readonly url: string;
  close(): Promise<void>;
}

const ASSETS = join(__dirname, '..', 'assets');
const UPLOT = dirname(require.resolve('uplot/package.json'));
const STATIC: Record<string, { file: string; type: string }> = {
  '/static/app.js': { file: join(ASSETS, 'app.js'), type: 'text/javascript' },
  '/static/app.css': { file: join(ASSETS, 'app.css'), type: 'text/css' },
  '/static/uplot.js': { file: join(UPLOT, 'dist', 'uPlot.iife.min.js'), type: 'text/javascript' },
  '/static/uplot.css': { file: join(UPLOT, 'dist', 'uPlot.min.css'), type: 'text/css' },
};
const PAGE = /^\/(|service\/[^/]+|run\/[^/]+|schedules)$/;

/**
 * Serve the run dashboard: an overview of the services (last run, success rate over 24 h and
 * 7 days, runs per day, p50/p95 duration, a chart of durations), a service's runs (status and
 * time filters, paging with the store's cursors), a run's whole record (metadata, error, step
 * metrics drawn as a chart, idempotency key, replay, trace id), and the schedules. New runs
 * appear without a reload (server-sent events). Pages are static files with a script that
 * writes every value with `textContent`, never as HTML; charts are uPlot on a canvas, served
 * from `node_modules`: nothing is fetched from the internet.
 *
 * Bound to loopback (the default), it answers only requests whose `Host` header names this
 * machine (`localhost`, `127.0.0.1`, `[::1]`, any port): a web page cannot read run records by
 * rebinding its own name to 127.0.0.1 (403). Bound elsewhere, it needs `token` instead.
 * Bad filters and run ids answer 400, a missing or wrong token 401, never 500.
 *
 * @throws ConfigError (core's; field `host`) when `host` is not loopback and there is no `token`.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const onLoopback = LOOPBACK_HOSTS.has(host);
  if (!onLoopback && !options.token)
    throw new ConfigError(
      'host',
      host,
      'the dashboard serves run records: off loopback (127.0.0.1) it needs a token (PIPELINE_DASHBOARD_TOKEN); set one, or use --host 127.0.0.1',
    );
  const { store } = options;
  const clock = options.clock ?? systemClock;
  // the page and its files, read once: they do not change while the dashboard runs
  const indexHtml = readFileSync(join(ASSETS, 'index.html'));
  const assets = new Map(
    Object.entries(STATIC).map(([path, { file, type }]) => [path, { body: readFileSync(file), type }]),
  );
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      // the one error table: a bad filter (InvalidRequestError) is a 400, an unreachable store a 503
      if (!res.headersSent) json(res, statusCodeForError(error), { error: error.message });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (onLoopback && !isLoopbackHost(req.headers.host)) {
      // DNS rebinding: a page of another site whose name now points at 127.0.0.1
      res.writeHead(403, { 'content-type': 'text/plain' });
      return void res.end(
        `403: this dashboard answers to localhost, 127.0.0.1 and [::1] only, not to the host "${req.headers.host ?? ''}"\n`,
      );
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const given = options.token ? givenToken(req, url) : undefined;
    if (options.token && !sameToken(given, options.token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
      return void res.end('401: this dashboard needs its token (?token=..., or Authorization: Bearer ...)\n');
    }
    if (options.token && url.searchParams.has('token')) {
      // the token in the address once; a cookie from then on, and an address without it
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: url.pathname + url.search,
        'set-cookie': `pipeline_dashboard=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return void res.end();
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'the dashboard only reads' });
    const asset = assets.get(url.pathname);
    if (asset) return send(res, 200, asset.type, asset.body);
    if (PAGE.test(url.pathname)) return send(res, 200, 'text/html; charset=utf-8', indexHtml);
    if (url.pathname === '/api/overview') return json(res, 200, { services: await overview(store, clock.now()) });
    if (url.pathname === '/api/runs') return json(res, 200, await runs(store, url.searchParams));
    if (url.pathname.startsWith('/api/runs/')) {
      const record = await store.get(runIdOf(url.pathname.slice('/api/runs/'.length)));
      return record ? json(res, 200, record) : json(res, 404, { error: 'no such run' });
    }
    if (url.pathname === '/api/schedules')
      return json(res, 200, { schedules: options.schedules ? await options.schedules() : null });
    if (url.pathname === '/api/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    json(res, 404, { error: 'not found' });
  }

  // Live updates: look for new and changed runs, and tell every open page.
  const seen = new Map<string, string>();
  let primed = false;
  const poll = clock.setInterval(
    async () => {
      if (!streams.size && primed) return;
      try {
        const { items } = await store.list({ limit: 50 });
        for (const run of items.reverse()) {
          if (seen.get(run.run_id) === run.status) continue;
          seen.set(run.run_id, run.status);
          if (primed)
            for (const stream of streams) stream.write(`event: run\ndata: ${JSON.stringify(summary(run))}\n\n`);
        }
        primed = true;
        if (seen.size > 1000) for (const id of [...seen.keys()].slice(0, seen.size - 500)) seen.delete(id);
      } catch {
        // the store is unreachable for a moment: the next poll tries again
      }
    },
    options.pollMs ?? 1000,
    { unref: true },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4280, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clock.clearInterval(poll);
        for (const stream of streams) stream.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A run as a list shows it. */
function summary(r: RunExecutionMetadata) {
  return {
    run_id: r.run_id,
    service: r.service,
    status: r.status,
    status_code: r.status_code,
    started_at: r.started_at,
    duration_ms: r.duration_ms,
    ...(r.replayed ? { replayed: true } : {}),
    ...(r.schedule_id ? { schedule_id: r.schedule_id } : {}),
  };
}

/** A page of runs: `service`, `status`, `from`/`to` (ISO times), `cursor`, `limit` (1 to 200, default 25). */
async function runs(store: RunStore, params: URLSearchParams) {
  const limit = limitOf(params.get('limit'));
  const status = params.get('status') || undefined;
  if (status && !RunStatusSchema.safeParse(status).success)
    throw new InvalidRequestError(
      `status "${status}" is not a run status: use one of ${RunStatusSchema.options.join(', ')}`,
    );
  const to = time(params, 'to');
  const from = time(params, 'from');
  // run ids are time-ordered: "before `to`" is a cursor, "after `from`" a floor
  let cursor = params.get('cursor') || undefined;
  if (to !== undefined && !cursor) cursor = runIdFloor(to + 1);
  const page = await store.list({
    service: params.get('service') || undefined,
    status: status as RunExecutionMetadata['status'] | undefined,
    limit,
    cursor,
  });
  const floor = from !== undefined ? runIdFloor(from) : undefined;
  const items = floor ? page.items.filter((r) => r.run_id >= floor) : page.items;
  const more = page.nextCursor && (!floor || items.length === page.items.length);
  return { items: items.map(summary), ...(more ? { nextCursor: page.nextCursor } : {}) };
}

/** The largest page `/api/runs` answers. */
const MAX_LIMIT = 200;

/** The page size (`limit`): a whole number from 1 to {@link MAX_LIMIT}, default 25; anything else is a 400. */
function limitOf(value: string | null): number {
  if (value === null || value === '') return 25;
  const limit = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT))
    throw new InvalidRequestError(`limit "${value}" is not a whole number from 1 to ${MAX_LIMIT}`);
  return limit;
}

/** A time filter (`from`, `to`): an ISO-8601 time, as ms since the epoch. */
function time(params: URLSearchParams, name: 'from' | 'to'): number | undefined {
  const value = params.get(name);
  if (!value) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidRequestError(`${name} "${value}" is not a time: use ISO-8601, e.g. 2026-11-28T10:00:00Z`);
  return ms;
}

/** The run id of `/api/runs/<id>`, decoded once; a malformed escape is the caller's mistake (400). */
function runIdOf(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new InvalidRequestError(
      `the run id "${encoded}" is not URL-encoded correctly (a % must start an escape like %2F)`,
    );
  }
}

function send(res: ServerResponse, status: number, type: string, body: Buffer | string) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    // handler-provided strings are text: no inline script may run, only our own files
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown) {
  send(res, status, 'application/json', JSON.stringify(body));
}
