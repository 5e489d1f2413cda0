/**
 * The ops page: one static HTML document (no build step, no external assets) that reads the ops
 * endpoints with the service token the operator types in (kept in sessionStorage, never in the
 * URL the server logs unless given as ?token= for automation). Draws the balance burn-down and
 * usage by day as inline SVG.
 */
export const OPS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tally ops</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #1b1f24; background: #fff; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  h2 { font-size: 16px; margin: 20px 0 8px; }
  form { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  input, select, button { font: inherit; padding: 4px 8px; }
  input[name=org] { width: 320px; }
  table { border-collapse: collapse; }
  th, td { border-bottom: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  #error { color: #cf222e; min-height: 1.2em; }
  svg { border: 1px solid #d0d7de; background: #fff; }
  .muted { color: #57606a; }
  ul#alerts { padding-left: 18px; }
</style>
</head>
<body>
<h1>Tally ops</h1>
<form id="pick">
  <label>Organization <input name="org" placeholder="ORG-..." required></label>
  <label>Token <input name="token" type="password" placeholder="x-service-token"></label>
  <label>Kind <select name="kind"><option value="">auto</option><option value="sandbox">sandbox hours</option><option value="agent">agent credits</option></select></label>
  <label>Days <input name="days" type="number" min="1" max="400" value="30" style="width:5em"></label>
  <button type="submit">Show</button>
</form>
<p id="error" role="alert"></p>
<section id="summary" hidden>
  <h2>Balance <span id="asof" class="muted"></span></h2>
  <table id="balances"><thead><tr><th>kind</th><th>granted</th><th>consumed</th><th>held</th><th>available</th><th>burn/h (1h)</th><th>burn/h (24h)</th><th title="recomputed now at the burn rate of the last hour">empty at (now, 1h burn)</th></tr></thead><tbody></tbody></table>
  <h2>Burn-down (<span id="unit"></span>)</h2>
  <svg id="burndown" width="720" height="260" viewBox="0 0 720 260" role="img" aria-label="balance burn-down"></svg>
  <h2>Usage by day</h2>
  <svg id="usage" width="720" height="200" viewBox="0 0 720 200" role="img" aria-label="usage by day"></svg>
  <h2>Recent alerts</h2>
  <ul id="alerts"></ul>
</section>
<script>
(() => {
  const form = document.getElementById('pick');
  const params = new URLSearchParams(location.search);
  for (const name of ['org', 'kind', 'days']) if (params.get(name)) form.elements[name].value = params.get(name);
  form.elements.token.value = params.get('token') || sessionStorage.getItem('tally-ops-token') || '';
  const NS = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, parent) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  };
  const text = (parent, x, y, content, anchor) => {
    const node = el('text', { x, y, 'font-size': 11, fill: '#57606a', 'text-anchor': anchor || 'start' }, parent);
    node.textContent = content;
  };
  async function get(path, token) {
    const response = await fetch(path, { headers: { 'x-service-token': token, accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) throw new Error((body && body.message) || ('HTTP ' + response.status));
    return body;
  }
  function axes(svg, w, h, pad, max) {
    el('line', { x1: pad, y1: h - pad, x2: w - 10, y2: h - pad, stroke: '#8c959f' }, svg);
    el('line', { x1: pad, y1: 10, x2: pad, y2: h - pad, stroke: '#8c959f' }, svg);
    text(svg, pad - 4, 16, String(max), 'end');
    text(svg, pad - 4, h - pad, '0', 'end');
  }
  function render(balances, usage, alerts, kind, days) {
    document.getElementById('summary').hidden = false;
    document.getElementById('asof').textContent = 'ledger position ' + balances.asOf + ', pending events ' + (balances.pendingEvents ?? 'unknown');
    const body = document.querySelector('#balances tbody');
    body.innerHTML = '';
    for (const k of ['sandbox', 'agent']) {
      const b = balances.balances[k];
      const row = document.createElement('tr');
      for (const v of [k + ' (' + b.unit + ')', b.granted, b.consumed, b.held, b.available, b.burnRatePerHour.lastHour, b.burnRatePerHour.lastDay, b.forecastDepletionAt || '—']) {
        const cell = document.createElement('td');
        cell.textContent = v;
        row.appendChild(cell);
      }
      body.appendChild(row);
    }
    document.getElementById('unit').textContent = kind === 'sandbox' ? 'sandbox hours' : 'agent credits';
    // Daily consumption in display units (the API gives exact decimal strings; the chart needs numbers).
    const field = kind === 'sandbox' ? 'sandboxHours' : 'agentCredits';
    const perDay = new Map(usage.series.map((p) => [p.start.slice(0, 10), Number(p[field])]));
    const start = new Date(usage.from).getTime();
    const dayList = [];
    for (let t = start; t < new Date(usage.to).getTime(); t += 86400000) dayList.push(new Date(t).toISOString().slice(0, 10));
    const remainingNow = Number(balances.balances[kind].available) + Number(balances.balances[kind].held);
    // Remaining at the end of day d = now + everything consumed after d (walk backwards).
    const remaining = new Array(dayList.length);
    let after = 0;
    for (let i = dayList.length - 1; i >= 0; i--) {
      remaining[i] = remainingNow + after;
      after += perDay.get(dayList[i]) || 0;
    }
    const svg = document.getElementById('burndown');
    svg.innerHTML = '';
    const W = 720, H = 260, P = 48;
    const max = Math.max(1, ...remaining, remainingNow + after);
    axes(svg, W, H, P, Math.round(max * 100) / 100);
    const x = (i) => P + ((W - P - 20) * i) / Math.max(1, dayList.length - 1);
    const y = (v) => H - P - ((H - P - 20) * v) / max;
    el('polyline', { points: remaining.map((v, i) => x(i) + ',' + y(v)).join(' '), fill: 'none', stroke: '#0969da', 'stroke-width': 3 }, svg);
    remaining.forEach((v, i) => {
      if (!perDay.get(dayList[i])) return;
      el('circle', { cx: x(i), cy: y(v), r: 4, fill: '#0969da', class: 'point', 'data-day': dayList[i], 'data-remaining': v }, svg);
    });
    text(svg, P, H - P + 16, dayList[0] || '');
    text(svg, W - 10, H - P + 16, dayList[dayList.length - 1] || '', 'end');
    const bars = document.getElementById('usage');
    bars.innerHTML = '';
    const BH = 200, maxUse = Math.max(1e-9, ...dayList.map((d) => perDay.get(d) || 0));
    axes(bars, W, BH, P, Math.round(maxUse * 100) / 100);
    const bw = Math.max(2, (W - P - 20) / Math.max(1, dayList.length) - 2);
    dayList.forEach((d, i) => {
      const v = perDay.get(d) || 0;
      if (!v) return;
      const h = ((BH - P - 20) * v) / maxUse;
      el('rect', { x: P + 1 + i * (bw + 2), y: BH - P - h, width: bw, height: h, fill: '#1a7f37', class: 'bar', 'data-day': d, 'data-value': v }, bars);
    });
    const list = document.getElementById('alerts');
    list.innerHTML = '';
    if (alerts.length === 0) list.innerHTML = '<li class="muted">none</li>';
    for (const a of alerts) {
      const item = document.createElement('li');
      item.textContent = a.createdAt + ' — ' + a.type + ' ' + a.kind + (a.threshold ? ' ' + a.threshold + '%' : '') +
        (a.data && a.data.forecastDepletionAt ? ' (forecast when raised: empty at ' + a.data.forecastDepletionAt + ')' : '');
      list.appendChild(item);
    }
    document.body.dataset.rendered = 'true';
  }
  async function show(event) {
    if (event) event.preventDefault();
    const org = form.elements.org.value.trim();
    const token = form.elements.token.value;
    const days = Number(form.elements.days.value) || 30;
    document.getElementById('error').textContent = '';
    if (!org) return;
    sessionStorage.setItem('tally-ops-token', token);
    try {
      const to = new Date(Math.ceil(Date.now() / 86400000) * 86400000);
      const from = new Date(to.getTime() - days * 86400000);
      const base = '/v1/orgs/' + encodeURIComponent(org);
      const [balances, usage, alerts] = await Promise.all([
        get(base + '/balances', token),
        get(base + '/usage?granularity=day&from=' + from.toISOString() + '&to=' + to.toISOString(), token),
        get(base + '/alerts?limit=20', token),
      ]);
      let kind = form.elements.kind.value;
      if (!kind) kind = Number(usage.totals.sandboxHours) > 0 || Number(balances.balances.sandbox.granted) > 0 ? 'sandbox' : 'agent';
      render(balances, usage, alerts, kind, days);
    } catch (error) {
      document.getElementById('error').textContent = String(error.message || error);
      document.body.dataset.rendered = 'error';
    }
  }
  form.addEventListener('submit', show);
  if (form.elements.org.value) show();
})();
</script>
</body>
</html>
`;
