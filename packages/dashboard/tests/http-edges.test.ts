import { request } from 'node:http';
import { join } from 'node:path';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { startDashboard, type Dashboard } from '../src';
import { runningRecord } from '../../storage/tests/helpers/records';
import { tempDir } from '../../../tests/support/temp-dir';

// Real HTTP on 127.0.0.1 through node:http, which sends the path and the Host header exactly as
// given (fetch would normalise both).

const dir = tempDir('dashboard-edges-');
let store: SqliteRunStore;
let open: Dashboard;
let runId: string;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  store = new SqliteRunStore(join(dir, 'runs.db'));
  const running = runningRecord({ service: 'svc' });
  await store.putRun(running, [{ exists: false }]);
  runId = running.run_id;
  open = await startDashboard({ store, port: 0, pollMs: 60_000 });
});

afterAll(async () => {
  await open?.close();
  await store?.close();
});

describe("bad filters and run ids are the caller's mistake: 400, never 500", () => {
  it('an unknown status answers 400 naming the allowed ones', async () => {
    const answer = await get(open.url, '/api/runs?status=bad');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatch(/status "bad" is not a run status: use one of RUNNING, SUCCEEDED/);
  });

  it('a time filter that is not a time answers 400 naming it', async () => {
    const answer = await get(open.url, '/api/runs?from=yesterday');
    expect([answer.status, JSON.parse(answer.body).error]).toEqual([400, expect.stringContaining('from "yesterday"')]);
  });

  it.each(['abc', '0', '-1', '2.5', '201', '1e2'])(
    'a limit of %s answers 400 naming the allowed range',
    async (limit) => {
      const answer = await get(open.url, `/api/runs?limit=${limit}`);
      expect([answer.status, JSON.parse(answer.body).error]).toEqual([
        400,
        `limit "${limit}" is not a whole number from 1 to 200`,
      ]);
    },
  );

  it('a limit from 1 to 200 is served', async () => {
    for (const limit of ['1', '200']) expect((await get(open.url, `/api/runs?limit=${limit}`)).status).toBe(200);
  });

  it('a run id with a malformed escape answers 400; a well-formed unknown one 404; a known one its record', async () => {
    expect((await get(open.url, '/api/runs/%')).status).toBe(400);
    expect((await get(open.url, '/api/runs/%E0%A4%A')).status).toBe(400);
    expect((await get(open.url, '/api/runs/no%20such%20run')).status).toBe(404);
    const known = await get(open.url, `/api/runs/${runId}`);
    expect([known.status, JSON.parse(known.body).service]).toEqual([200, 'svc']);
  });
});

describe('DNS rebinding: on loopback the Host header must name this machine', () => {
  it.each(['localhost', '127.0.0.1', '[::1]', 'LOCALHOST:4280', '127.0.0.1:1'])('serves Host %s', async (host) => {
    expect((await get(open.url, '/api/overview', { host })).status).toBe(200);
  });

  it.each(['evil.example', 'evil.example:4280', '127.0.0.1.evil.example', 'localhost.evil.example'])(
    'refuses Host %s with 403, reading nothing',
    async (host) => {
      const answer = await get(open.url, '/api/runs', { host });
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('answers to localhost, 127.0.0.1 and [::1] only');
      expect(answer.body).not.toContain(runId);
    },
  );

  it('bound elsewhere with a token, any Host is served to the holder of the token', async () => {
    const guarded = await startDashboard({ store, host: '0.0.0.0', port: 0, token: 't', pollMs: 60_000 });
    try {
      const base = `http://127.0.0.1:${new URL(guarded.url).port}`;
      const answer = await get(base, '/api/overview', { host: 'dashboard.example', authorization: 'Bearer t' });
      expect(answer.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('tokens: decoded once, compared in constant time, 401 for anything wrong', () => {
  const TOKEN = 'p%ss w0rd+/=&é';
  let guarded: Dashboard;
  let base: string;
  beforeAll(async () => {
    guarded = await startDashboard({ store, host: '0.0.0.0', port: 0, token: TOKEN, pollMs: 60_000 });
    base = `http://127.0.0.1:${new URL(guarded.url).port}`;
  });
  afterAll(() => guarded.close());

  it('a token holding % authenticates in the address, as a Bearer header and as the cookie it sets', async () => {
    const viaQuery = await get(base, `/api/overview?token=${encodeURIComponent(TOKEN)}`);
    expect(viaQuery.status).toBe(303); // the token leaves the address for a cookie
    const cookie = String(viaQuery.headers['set-cookie']).split(';')[0]!;
    expect((await get(base, '/api/overview', { cookie })).status).toBe(200);
    expect((await get(base, '/api/overview', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it.each([
    ['a malformed escape in the address', '/api/overview?token=%E0%A4%A', {}],
    ['a lone % in the address', '/api/overview?token=%', {}],
    ['a malformed escape in the cookie', '/api/overview', { cookie: 'pipeline_dashboard=%E0%A4%A' }],
    ['the token encoded twice', `/api/overview?token=${encodeURIComponent(encodeURIComponent(TOKEN))}`, {}],
    ['a prefix of the token', '/api/overview', { authorization: `Bearer ${TOKEN.slice(0, 3)}` }],
    ['the token and more', '/api/overview', { authorization: `Bearer ${TOKEN}x` }],
    ['no token', '/api/overview', {}],
  ] as [string, string, Record<string, string>][])('%s answers 401', async (_what, path, headers) => {
    const answer = await get(base, path, headers);
    expect([answer.status, answer.headers['www-authenticate']]).toEqual([401, 'Bearer']);
  });
});
