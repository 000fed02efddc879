// The dashboard's pages. Every value from a run record is written with textContent (never as
// HTML), so a handler's body, error or metadata is shown as text whatever it holds.
(function () {
  'use strict';
  const main = document.getElementById('main');

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v;
      else if (k === 'className') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }
  const text = (value) => document.createTextNode(value == null ? '' : String(value));
  const link = (href, label) => el('a', { href, text: label });
  const statusCell = (status) => el('td', { className: `status ${status}`, text: status });
  const pct = (part, whole) => (whole ? `${Math.round((100 * part) / whole)} %` : '–');
  const ms = (v) => (v == null ? '–' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);
  async function api(path) {
    const res = await fetch(path, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }
  function table(headers, rows) {
    return el(
      'table',
      {},
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { text: h })))),
      el('tbody', {}, ...rows),
    );
  }
  function runRow(r) {
    return el(
      'tr',
      { 'data-run': r.run_id },
      el('td', {}, link(`/run/${encodeURIComponent(r.run_id)}`, r.run_id)),
      el('td', {}, link(`/service/${encodeURIComponent(r.service)}`, r.service)),
      statusCell(r.status),
      el('td', { text: r.started_at }),
      el('td', { text: ms(r.duration_ms) }),
      el('td', {
        text: [r.replayed ? 'replay' : '', r.schedule_id ? `schedule ${r.schedule_id}` : ''].filter(Boolean).join(', '),
      }),
    );
  }
  const RUN_HEADERS = ['run', 'service', 'status', 'started', 'duration', ''];

  function chart(title, xs, series, { xTime = true, width = 520, height = 180 } = {}) {
    const box = el('div', { className: 'chart', 'data-chart': title });
    const opts = {
      title,
      width,
      height,
      scales: { x: { time: xTime } },
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: ['#175cd3', '#b42318', '#137a3b', '#7a5af8'][i % 4],
          width: 2,
          points: { show: xs.length < 60 },
        })),
      ],
    };
    requestAnimationFrame(() => new uPlot(opts, [xs, ...series.map((s) => s.values)], box));
    return box;
  }

  async function overviewPage() {
    document.title = 'Overview · pipeline-invocation';
    const { services } = await api('/api/overview');
    main.replaceChildren(el('h1', { text: 'Services' }));
    if (!services.length) main.append(el('p', { className: 'muted', text: 'No runs yet.' }));
    main.append(
      table(
        ['service', 'last run', 'status', 'success 24 h', 'success 7 d', 'runs per day (7 d)', 'p50', 'p95'],
        services.map((s) =>
          el(
            'tr',
            { 'data-service': s.service },
            el('td', {}, link(`/service/${encodeURIComponent(s.service)}`, s.service)),
            el('td', {}, s.last ? link(`/run/${encodeURIComponent(s.last.run_id)}`, s.last.started_at) : text('–')),
            s.last ? statusCell(s.last.status) : el('td', { text: '–' }),
            el('td', { text: pct(s.last24h.succeeded, s.last24h.finished) }),
            el('td', { text: pct(s.last7d.succeeded, s.last7d.finished) }),
            el('td', { text: s.perDay.map((d) => d.runs).join(' · ') }),
            el('td', { text: ms(s.p50Ms) }),
            el('td', { text: ms(s.p95Ms) }),
          ),
        ),
      ),
    );
    for (const s of services)
      if (s.durations.length)
        main.append(
          chart(
            `${s.service}: run duration (ms)`,
            s.durations.map((d) => d[0]),
            [{ label: 'duration ms', values: s.durations.map((d) => d[1]) }],
          ),
        );
    main.append(el('h2', { text: 'Latest runs' }));
    const latest = await api('/api/runs?limit=20');
    const body = el('tbody', { id: 'latest' }, ...latest.items.map(runRow));
    main.append(el('table', {}, el('thead', {}, el('tr', {}, ...RUN_HEADERS.map((h) => el('th', { text: h })))), body));
    onRun((run) => {
      const existing = body.querySelector(`tr[data-run="${CSS.escape(run.run_id)}"]`);
      const row = runRow(run);
      if (existing) existing.replaceWith(row);
      else body.prepend(row);
    });
  }

  async function servicePage(service) {
    document.title = `${service} · pipeline-invocation`;
    const params = new URLSearchParams(location.search);
    const status = el(
      'select',
      { name: 'status' },
      ...['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'CRASHED'].map((s) =>
        el('option', { value: s, text: s || 'any status' }),
      ),
    );
    status.value = params.get('status') || '';
    const from = el('input', { type: 'datetime-local', name: 'from', value: params.get('from') || '' });
    const to = el('input', { type: 'datetime-local', name: 'to', value: params.get('to') || '' });
    const apply = el('button', {
      text: 'Apply',
      onclick: () => {
        const next = new URLSearchParams();
        if (status.value) next.set('status', status.value);
        if (from.value) next.set('from', from.value);
        if (to.value) next.set('to', to.value);
        location.search = next.toString();
      },
    });
    const body = el('tbody');
    const more = el('button', { text: 'Next page', hidden: '' });
    main.replaceChildren(
      el('h1', { text: service }),
      el(
        'div',
        { className: 'filters' },
        el('label', {}, text('Status '), status),
        el('label', {}, text('From '), from),
        el('label', {}, text('To '), to),
        apply,
      ),
      el('table', {}, el('thead', {}, el('tr', {}, ...RUN_HEADERS.map((h) => el('th', { text: h })))), body),
      more,
    );
    const query = new URLSearchParams({ service, limit: '25' });
    for (const key of ['status', 'from', 'to'])
      if (params.get(key)) query.set(key, key === 'status' ? params.get(key) : new Date(params.get(key)).toISOString());
    let cursor;
    async function load() {
      if (cursor) query.set('cursor', cursor);
      const page = await api(`/api/runs?${query}`);
      body.append(...page.items.map(runRow));
      cursor = page.nextCursor;
      if (cursor) more.removeAttribute('hidden');
      else more.setAttribute('hidden', '');
    }
    more.addEventListener('click', load);
    await load();
    onRun((run) => {
      if (run.service !== service || cursor === undefined) {
        const existing = body.querySelector(`tr[data-run="${CSS.escape(run.run_id)}"]`);
        if (existing) existing.replaceWith(runRow(run));
        else if (run.service === service && !params.toString()) body.prepend(runRow(run));
      }
    });
  }

  async function runPage(runId) {
    document.title = `${runId} · pipeline-invocation`;
    const r = await api(`/api/runs/${encodeURIComponent(runId)}`);
    let metadata = r.metadata;
    let parsed;
    try {
      parsed = JSON.parse(r.metadata);
      metadata = JSON.stringify(parsed, null, 2);
    } catch {
      // not JSON: shown as it is
    }
    const fields = [
      ['run id', r.run_id],
      ['service', r.service],
      ['status', r.status],
      ['status code', r.status_code],
      ['run type', r.run_type],
      ['started', r.started_at],
      ['ended', r.ended_at],
      ['duration', ms(r.duration_ms)],
      ['handler', `${r.handler_package}@${r.handler_version}`],
      ['idempotency key', r.idempotency_key || '–'],
      ['replay', r.replayed ? 'yes: this record was returned for a repeated request' : 'no'],
      ['schedule', r.schedule_id || '–'],
      ['queue job', r.job_id || '–'],
      ['trace id', r.trace_id || '–'],
    ];
    main.replaceChildren(
      el('h1', {}, text(`Run ${r.run_id} `), el('span', { className: `status ${r.status}`, text: r.status })),
      el(
        'table',
        { id: 'record' },
        el(
          'tbody',
          {},
          ...fields.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: v == null ? '–' : v }))),
        ),
      ),
      el('h2', { text: 'Body' }),
      el('pre', { id: 'body', text: r.body }),
    );
    if (r.error)
      main.append(el('h2', { text: 'Error' }), el('pre', { id: 'error', text: `${r.error.name}: ${r.error.message}` }));
    const steps = parsed && parsed.metric_steps;
    if (steps && Object.keys(steps).length) {
      main.append(el('h2', { text: 'Step metrics' }));
      for (const [name, points] of Object.entries(steps))
        main.append(
          chart(
            name,
            points.map((p) => p[0]),
            [{ label: name, values: points.map((p) => p[1]) }],
            { xTime: false },
          ),
        );
    }
    main.append(
      el('h2', { text: 'Metadata' }),
      el('pre', { id: 'metadata', text: metadata }),
      el('h2', { text: 'Request metadata' }),
      el('pre', { text: JSON.stringify(r.request_metadata || {}, null, 2) }),
      el('h2', { text: 'Whole record' }),
      el('pre', { id: 'whole', text: JSON.stringify(r, null, 2) }),
    );
  }

  async function schedulesPage() {
    document.title = 'Schedules · pipeline-invocation';
    const { schedules } = await api('/api/schedules');
    main.replaceChildren(el('h1', { text: 'Schedules' }));
    if (schedules === null) {
      main.append(
        el('p', {
          className: 'muted',
          text: 'Schedules need @pipeline-invocation/worker and Redis (REDIS_URL): none are shown.',
        }),
      );
      return;
    }
    main.append(
      table(
        ['id', 'service', 'when', 'next run'],
        schedules.map((s) =>
          el(
            'tr',
            {},
            el('td', { text: s.id }),
            el('td', { text: s.service }),
            el('td', { text: s.cron ? `cron ${s.cron}${s.tz ? ` (${s.tz})` : ''}` : `every ${s.every_ms / 1000} s` }),
            el('td', { text: s.next_run_at || '–' }),
          ),
        ),
      ),
    );
  }

  const listeners = [];
  function onRun(fn) {
    listeners.push(fn);
  }
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => document.getElementById('live').classList.add('on'));
  events.addEventListener('run', (e) => {
    const run = JSON.parse(e.data);
    for (const fn of listeners) fn(run);
  });

  const path = location.pathname;
  const page = path.startsWith('/service/')
    ? servicePage(decodeURIComponent(path.slice(9)))
    : path.startsWith('/run/')
      ? runPage(decodeURIComponent(path.slice(5)))
      : path === '/schedules'
        ? schedulesPage()
        : overviewPage();
  page.then(
    () => document.body.setAttribute('data-ready', 'true'),
    (error) => main.replaceChildren(el('p', { className: 'status FAILED', text: String(error.message || error) })),
  );
})();
