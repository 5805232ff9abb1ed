// m2msim live view: reads the server's WebSocket stream (one "history",
// then a "frame" per tick) and draws figures, charts and tables. Every
// figure is written with textContent: nothing from the stream is parsed
// as HTML.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token');

  // state is exposed as window.m2msim for tests and for the curious.
  const state = {
    points: [], next: 0, max: 3600, live: null, report: '',
    frames: 0, histories: 0, charts: {}, cspViolations: [],
  };
  window.m2msim = state;
  document.addEventListener('securitypolicyviolation', (e) => {
    state.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });

  const palette = ['#2563eb', '#16a34a', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#475569'];
  const knownMetrics = ['connect', 'ack', 'e2e', 'command', 'request'];

  // ---- connection ----

  function withToken(path) {
    const u = new URL(path, location.href);
    u.search = '';
    if (token) u.searchParams.set('token', token);
    return u;
  }

  let retry = 0;
  function connect() {
    const u = withToken('ws');
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(u);
    ws.onopen = () => { retry = 0; setConn('live', 'live'); };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      onMessage(m);
    };
    ws.onclose = () => {
      if (state.report) { setConn('closed', 'view closed'); return; }
      setConn('reconnecting', 'reconnecting…');
      setTimeout(connect, Math.min(5000, 250 * 2 ** retry++));
    };
  }

  function setConn(cls, text) {
    const c = $('conn');
    c.className = 'conn ' + cls;
    c.textContent = text;
  }

  // decimate thins the older half of pts to every other point, as the
  // server does, so the page's memory is bounded too.
  function decimate(pts) {
    const old = Math.floor(pts.length / 2);
    const kept = [];
    for (let i = 0; i < old; i += 2) kept.push(pts[i]);
    pts.splice(0, old, ...kept);
  }

  function onMessage(m) {
    if (m.type === 'history') {
      state.points = m.points || [];
      state.next = m.next || 0;
      state.max = m.max_points || state.max;
      state.histories++;
    } else if (m.type === 'frame') {
      const pts = m.points || [];
      for (let i = Math.max(0, state.next - m.from); i < pts.length; i++) {
        if (state.points.length >= state.max) decimate(state.points);
        state.points.push(pts[i]);
      }
      state.next = Math.max(state.next, m.from + pts.length);
      state.frames++;
    } else {
      return;
    }
    if (m.live) state.live = m.live;
    if (m.report) state.report = m.report;
    render();
  }

  // ---- formatting ----

  const nf = new Intl.NumberFormat('en-US');
  const fmtInt = (v) => (v == null ? '–' : nf.format(Math.round(v)));
  function fmtNum(v) {
    if (v == null || !isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a >= 100) return nf.format(Math.round(v));
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(a >= 1 || a === 0 ? 1 : 2);
  }
  const fmtMs = (v) => (v == null ? '–' : fmtNum(v) + ' ms');
  function fmtClock(s) {
    if (s == null || !isFinite(s)) return '–';
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, '0') : String(m);
    return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
  }
  function fmtAxis(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
    return +v.toFixed(2) + '';
  }
  const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- rendering ----

  function render() {
    const l = state.live;
    if (l) {
      renderHeader(l);
      renderFigures(l);
      renderWarnings(l.warnings || []);
      renderThresholds(l.thresholds || []);
      renderGroups(l.groups || []);
    }
    renderCharts(state.points);
    renderFinished();
  }

  function renderHeader(l) {
    $('name').textContent = l.name || '(unnamed scenario)';
    document.title = (l.name || 'run') + ' · m2msim live';
    const phase = state.report ? 'finished' : (l.phase || 'running');
    const badge = $('phase');
    badge.textContent = phase;
    badge.className = 'badge ' + phase;
    $('clock').textContent = fmtClock(l.elapsed_s) + (l.planned_s > 0 ? ' / ' + fmtClock(l.planned_s) : ' (open-ended)');
    const pct = l.planned_s > 0 ? Math.min(100, (100 * l.elapsed_s) / l.planned_s) : 0;
    $('progress-bar').style.width = pct + '%';
    const stages = l.stages || [];
    $('stage').textContent = l.stage_index >= 0 && stages.length
      ? 'stage ' + (l.stage_index + 1) + '/' + stages.length + ': ' + (l.stage || stages[l.stage_index])
      : '';
    const parts = [];
    if (l.file) parts.push(l.file);
    parts.push('seed ' + l.seed);
    parts.push('figures over the last ' + fmtNum(l.window_s) + ' s unless said');
    $('footer').textContent = parts.join(' · ');
  }

  function renderFigures(l) {
    const d = l.devices || {};
    const rates = l.rates || {}, totals = l.totals || {};
    $('f-connected').textContent = fmtInt(d.connected) + ' / ' + fmtInt(l.planned);
    $('f-connected-sub').textContent = 'connecting ' + fmtInt(d.connecting) + ' · sleeping ' + fmtInt(d.sleeping) + ' · offline ' + fmtInt(d.offline);
    $('f-sent').textContent = fmtNum(rates.sent);
    $('f-sent-sub').textContent = fmtInt(totals.sent || 0) + ' so far';
    $('f-received').textContent = fmtNum(rates.received);
    $('f-received-sub').textContent = fmtInt(totals.received || 0) + ' so far';
    const e2e = (l.latency_ms || {}).e2e;
    $('f-e2e').textContent = e2e ? fmtMs(e2e.p99) : '–';
    $('f-e2e-sub').textContent = e2e ? 'p50 ' + fmtMs(e2e.p50) + ' · last ' + fmtNum(l.window_s) + ' s' : 'no end-to-end samples';
    const errs = l.errors || {}, n = sum(errs);
    $('f-errors').textContent = fmtInt(n);
    $('fig-errors').classList.toggle('bad', n > 0);
    $('f-errors-sub').textContent = Object.entries(errs).sort((a, b) => b[1] - a[1]).slice(0, 3)
      .map(([k, v]) => k + ' ' + fmtInt(v)).join(' · ') || 'none so far';
  }

  function renderWarnings(ws) {
    $('warnings').hidden = ws.length === 0;
    $('warning-list').replaceChildren(...ws.map((w) => el('li', '', w)));
  }

  function renderThresholds(ts) {
    $('no-thresholds').hidden = ts.length > 0;
    $('thresholds').hidden = ts.length === 0;
    $('thresholds').tBodies[0].replaceChildren(...ts.map((t) => {
      const tr = el('tr');
      const expr = el('td', 'wrap');
      expr.append(el('code', '', t.expr));
      tr.append(expr, el('td', 'num', t.actual == null ? 'beyond' : fmtNum(t.actual)));
      const res = el('td', 'wrap');
      res.append(el('span', t.passed ? 'pass' : 'fail', t.passed ? 'pass' : 'fail'));
      if (!t.passed && t.reason) res.append(el('span', 'reason', t.reason));
      tr.append(res);
      return tr;
    }));
  }

  function renderGroups(gs) {
    $('groups-panel').hidden = gs.length === 0;
    if (!gs.length) return;
    const radio = gs.some((g) => g.radio);
    const cols = [['group', (g) => g.name, ''], ['devices', (g) => fmtInt(g.devices), 'num'],
      ['sent', (g) => fmtInt(g.sent), 'num'], ['received', (g) => fmtInt(g.received), 'num'],
      ['errors', (g) => fmtInt(g.errors), 'num']];
    if (radio) {
      const r = (f) => (g) => (g.radio ? f(g.radio) : '–');
      cols.push(['airtime', r((x) => fmtNum(x.airtime_s) + ' s'), 'num'],
        ['deferred', r((x) => fmtInt(x.deferred)), 'num'],
        ['collisions', r((x) => fmtInt(x.collisions)), 'num'],
        ['downlink wait', r((x) => fmtMs(x.downlink_wait_max_ms)), 'num']);
    }
    const t = $('groups');
    const head = el('tr');
    head.append(...cols.map(([name, , cls]) => el('th', cls, name)));
    t.tHead.replaceChildren(head);
    t.tBodies[0].replaceChildren(...gs.map((g) => {
      const tr = el('tr');
      tr.append(...cols.map(([, get, cls]) => el('td', cls, get(g))));
      return tr;
    }));
  }

  function renderFinished() {
    const done = !!state.report;
    $('finished').hidden = !done;
    if (done) {
      $('report-link').href = withToken(state.report).toString();
      if ($('conn').classList.contains('live')) setConn('live', 'finished');
    }
  }

  // ---- charts ----

  // specs lists the charts the points call for: fixed ones, one per
  // latency metric present, and errors by kind.
  function specs(points) {
    const dev = (k) => (p) => (p.devices ? p.devices[k] : null);
    const rate = (k) => (p) => (p.rates && k in p.rates ? p.rates[k] : null);
    const out = [
      { id: 'devices', title: 'Devices by state', fmt: fmtInt, series: [
        { label: 'connected', get: dev('connected'), color: '#16a34a' },
        { label: 'connecting', get: dev('connecting'), color: '#f59e0b' },
        { label: 'sleeping', get: dev('sleeping'), color: '#6366f1' },
        { label: 'offline', get: dev('offline'), color: '#94a3b8' }] },
      { id: 'rates', title: 'Messages per second', series: [
        { label: 'sent', get: rate('sent'), color: '#2563eb' },
        { label: 'acked', get: rate('acked'), color: '#0891b2' },
        { label: 'received', get: rate('received'), color: '#16a34a' }] },
    ];
    const metrics = new Set(), kinds = new Set();
    for (const p of points) {
      for (const k in p.latency_ms || {}) metrics.add(k);
      for (const k in p.errors || {}) kinds.add(k);
    }
    const ordered = knownMetrics.filter((m) => metrics.has(m))
      .concat([...metrics].filter((m) => !knownMetrics.includes(m)).sort());
    for (const m of ordered) {
      const q = (k) => (p) => (p.latency_ms && p.latency_ms[m] ? p.latency_ms[m][k] : null);
      out.push({ id: 'latency-' + m, title: m + ' latency (ms)', series: [
        { label: 'p50', get: q('p50'), color: '#16a34a' },
        { label: 'p90', get: q('p90'), color: '#f59e0b' },
        { label: 'p99', get: q('p99'), color: '#dc2626' }] });
    }
    const ks = [...kinds].sort();
    out.push({ id: 'errors', title: 'Errors by kind (per interval)', fmt: fmtInt, series: ks.length
      ? ks.map((k, i) => ({ label: k, get: (p) => (p.errors && p.errors[k]) || 0, color: palette[(i + 3) % palette.length] }))
      : [{ label: 'errors', get: () => 0, color: '#dc2626' }] });
    return out;
  }

  function chartWidth(box) {
    return Math.max(200, box.clientWidth - 20);
  }

  // Time axis steps, in seconds: whole seconds, minutes and hours.
  const timeIncrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

  // legendValue shows the hovered value, or the latest one when the
  // cursor is elsewhere.
  const legendValue = (fmt) => (u, v, si, idx) => {
    if (idx == null) {
      const d = u.data[si];
      v = d && d.length ? d[d.length - 1] : null;
    }
    return fmt(v);
  };

  function makeChart(spec, data) {
    const box = el('div', 'chart');
    box.append(el('h2', '', spec.title));
    const plot = el('div', 'plot');
    box.append(plot);
    $('charts').append(box);
    const opts = {
      width: chartWidth(box), height: 180,
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] } },
      series: [{ label: 't', value: legendValue(fmtClock) }].concat(spec.series.map((s) => ({
        label: s.label, stroke: s.color, width: 1.5, points: { show: false },
        value: legendValue(spec.fmt || fmtNum),
      }))),
      axes: [
        { incrs: timeIncrs, space: 60, values: (u, vs) => vs.map(fmtClock), stroke: '#475569', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#cbd5e1' } },
        { values: (u, vs) => vs.map(fmtAxis), size: 52, stroke: '#475569', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#cbd5e1' } },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    return { box, sig: signature(spec), plot: new uPlot(opts, data, plot) };
  }

  const signature = (spec) => spec.series.map((s) => s.label).join('|');

  function renderCharts(points) {
    if (typeof uPlot === 'undefined') return;
    const want = specs(points);
    const ids = new Set(want.map((s) => s.id));
    let reorder = false;
    for (const id of Object.keys(state.charts)) {
      if (!ids.has(id)) { state.charts[id].plot.destroy(); state.charts[id].box.remove(); delete state.charts[id]; }
    }
    const xs = points.map((p) => p.t);
    for (const spec of want) {
      const data = [xs].concat(spec.series.map((s) => points.map(s.get)));
      let c = state.charts[spec.id];
      if (c && c.sig !== signature(spec)) {
        c.plot.destroy(); c.box.remove(); c = null;
      }
      if (!c) {
        state.charts[spec.id] = makeChart(spec, data);
        reorder = true;
      } else {
        c.plot.setData(data);
      }
    }
    if (reorder) $('charts').append(...want.map((s) => state.charts[s.id].box));
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const c of Object.values(state.charts)) c.plot.setSize({ width: chartWidth(c.box), height: 180 });
    }, 100);
  });

  connect();
})();
