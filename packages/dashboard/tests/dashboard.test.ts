import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { SqliteRunStore } from '@pipeline-invocation/storage';
import { startDashboard, type Dashboard } from '../src';
import { runningRecord } from '../../storage/tests/helpers/records';
import { tempDir } from '../../../tests/support/temp-dir';

// Debian's chromium, installed by `npm test` when missing (scripts/ensure-system-packages.cjs).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The README's screenshots: written to docs/ with UPDATE_SCREENSHOTS=1, else to the test's folder.
const shots = () => (process.env.UPDATE_SCREENSHOTS ? join(__dirname, '..', 'docs') : dir);
const XSS = '<script>window.__xss = 1</script><img src="x" onerror="window.__xss = 2">';

let browser: Browser;
let store: SqliteRunStore;
let dashboard: Dashboard;
const dir = tempDir('dashboard-');

/** Record a finished run, `minutesAgo` minutes ago. */
async function run(
  service: string,
  status: RunExecutionMetadata['status'],
  extra: Partial<RunExecutionMetadata> = {},
  minutesAgo = 0,
): Promise<RunExecutionMetadata> {
  const at = Date.now() - minutesAgo * 60_000;
  const started = new Date(at).toISOString();
  const running = runningRecord({
    service,
    timestamp: started,
    started_at: started,
    handler_package: 'demo-plugin',
    handler_version: '1.2.0',
    request_metadata: { request_id: `req-${service}` },
  });
  await store.putRun(running, [{ exists: false }]);
  const final = {
    ...running,
    status,
    status_code: status === 'SUCCEEDED' ? 200 : 500,
    body: status === 'SUCCEEDED' ? 'Classification of latest posts completed successfully' : 'failed',
    ended_at: new Date(at + 1000).toISOString(),
    duration_ms: 200 + (running.run_id.charCodeAt(25) % 40) * 50,
    ...extra,
  };
  await store.putRun(final, [{ exists: true }]);
  return final;
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  store = new SqliteRunStore(join(dir, 'runs.db'));
  for (let i = 12; i > 0; i--) await run('ml_inference_perspective_api', i % 5 ? 'SUCCEEDED' : 'FAILED', {}, i * 30);
  await run('ml_inference_perspective_api', 'SUCCEEDED', {
    metadata: JSON.stringify({
      inference_type: 'perspective_api',
      total_classified_posts: 3,
      metrics: { posts_labelled: 300 },
      metric_steps: {
        posts_labelled: [
          [0, 90],
          [1, 180],
          [2, 300],
        ],
      },
    }),
    idempotency_key: 'nightly-2026-11-28',
  });
  await run('ml_inference_openai_moderation', 'FAILED', { body: XSS, error: { name: 'Error', message: XSS } }, 5);
  dashboard = await startDashboard({ store, port: 0, pollMs: 200 });
}, 60_000);

afterAll(async () => {
  await dashboard?.close();
  await browser?.close();
  await store?.close();
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url + path);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Whether a canvas under `selector` has any painted pixel. */
const painted = (page: Page, selector: string) =>
  page.$$eval(`${selector} canvas`, (canvases) =>
    canvases.some((canvas) => {
      const { data } = (canvas as HTMLCanvasElement)
        .getContext('2d')!
        .getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height);
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }),
  );

type Page_ = { items: { run_id: string }[]; nextCursor?: string };

describe('the run dashboard in a real headless Chromium', () => {
  it('the overview lists each service with its last run and rates, and draws the duration charts', async () => {
    const page = await open('/');
    const rows = await page.$$eval('tr[data-service]', (trs) => trs.map((tr) => (tr as HTMLElement).innerText));
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.startsWith('ml_inference_perspective_api'))).toMatch(/SUCCEEDED\s+85 %\s+85 %/);
    expect(rows.find((r) => r.startsWith('ml_inference_openai_moderation'))).toMatch(/FAILED\s+0 %/);
    expect(await page.$$eval('#latest tr', (trs) => trs.length)).toBe(14);
    await page.waitForSelector('[data-chart] canvas');
    expect(await painted(page, '[data-chart]')).toBe(true);
    const overviewShot = join(shots(), 'overview.png');
    await page.screenshot({ path: overviewShot });
    expect(readFileSync(overviewShot).subarray(1, 4).toString()).toBe('PNG');
    await page.close();
  });

  it('clicking a run shows its whole record, metadata pretty-printed and its step metrics as a chart', async () => {
    const page = await open('/service/ml_inference_perspective_api');
    await page.click('tbody tr:first-child td:first-child a');
    await page.waitForSelector('#record');
    const record = await page.$eval('#record', (t) => (t as HTMLElement).innerText);
    expect(record).toContain('idempotency key\tnightly-2026-11-28');
    expect(record).toContain('handler\tdemo-plugin@1.2.0');
    expect(await page.$eval('#metadata', (p) => p.textContent)).toContain('\n  "total_classified_posts": 3');
    await page.waitForSelector('[data-chart="posts_labelled"] canvas');
    expect(await painted(page, '[data-chart="posts_labelled"]')).toBe(true);
    await page.screenshot({ path: join(shots(), 'run.png'), fullPage: true });
    await page.close();
  });

  it('a run that finishes while the page is open appears without a reload', async () => {
    const page = await open('/');
    await page.waitForSelector('#live.on');
    const fresh = await run('ml_inference_perspective_api', 'SUCCEEDED');
    await page.waitForSelector(`#latest tr[data-run="${fresh.run_id}"]`, { timeout: 5000 });
    expect(await page.$eval(`#latest tr[data-run="${fresh.run_id}"]`, (tr) => (tr as HTMLElement).innerText)).toContain(
      'SUCCEEDED',
    );
    await page.close();
  });

  it('shows a body holding <script> and <img onerror> as text, running nothing', async () => {
    const failed = (await store.list({ service: 'ml_inference_openai_moderation', limit: 1 })).items[0]!;
    const page = await open(`/run/${failed.run_id}`);
    expect(await page.$eval('#body', (p) => p.textContent)).toBe(XSS);
    expect(await page.$eval('#error', (p) => p.textContent)).toBe(`Error: ${XSS}`);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.$$('main img')).toHaveLength(0);
    await page.close();
  });

  it("serves the service page with a status filter and paging through the store's cursors", async () => {
    const page = await open('/service/ml_inference_perspective_api?status=FAILED');
    expect(
      await page.$$eval('tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).innerText.includes('FAILED'))),
    ).toEqual([true, true]);
    await page.close();
    const page1 = async (cursor?: string) =>
      (await (
        await fetch(
          `${dashboard.url}/api/runs?service=ml_inference_perspective_api&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
        )
      ).json()) as Page_;
    const all = await page1();
    const next = await page1(all.nextCursor);
    expect(all.items).toHaveLength(5);
    expect(next.items[0]!.run_id < all.items[4]!.run_id).toBe(true);
  });
});

describe('schedules', () => {
  it('lists the schedules with their next run time', async () => {
    const withSchedules = await startDashboard({
      store,
      port: 0,
      schedules: async () => [
        {
          id: 'nightly',
          service: 'ml_inference_openai_moderation',
          cron: '0 3 * * *',
          tz: 'Europe/Berlin',
          next_run_at: '2026-11-30T02:00:00.000Z',
        },
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${withSchedules.url}/schedules`);
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.$eval('main table', (t) => (t as HTMLElement).innerText)).toMatch(
        /nightly\s+ml_inference_openai_moderation\s+cron 0 3 \* \* \* \(Europe\/Berlin\)\s+2026-11-30T02:00:00.000Z/,
      );
      await page.close();
    } finally {
      await withSchedules.close();
    }
  });
});

describe('access', () => {
  it('refuses to start off loopback without PIPELINE_DASHBOARD_TOKEN', async () => {
    // core's ConfigError (exit code 2 in the CLI), naming the option
    await expect(startDashboard({ store, host: '0.0.0.0', port: 0 })).rejects.toMatchObject({
      name: 'ConfigError',
      variable: 'host',
      message: expect.stringContaining('PIPELINE_DASHBOARD_TOKEN'),
    });
  });

  it('off loopback, answers 401 to every request without the token, and serves the browser that brings it once', async () => {
    const guarded = await startDashboard({ store, host: '0.0.0.0', port: 0, token: 's3cret-token' });
    const port = new URL(guarded.url).port;
    const base = `http://127.0.0.1:${port}`;
    try {
      for (const path of ['/', '/api/overview', '/api/runs', '/static/app.js', '/api/events'])
        expect([path, (await fetch(base + path)).status]).toEqual([path, 401]);
      expect((await fetch(`${base}/api/overview`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${base}/api/overview`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(
        200,
      );
      const page = await browser.newPage();
      await page.goto(`${base}/?token=s3cret-token`);
      await page.waitForSelector('body[data-ready="true"]');
      expect(page.url()).toBe(`${base}/`); // the token left the address for a cookie
      expect(await page.$$eval('tr[data-service]', (trs) => trs.length)).toBe(2);
      await page.close();
    } finally {
      await guarded.close();
    }
  });
});
