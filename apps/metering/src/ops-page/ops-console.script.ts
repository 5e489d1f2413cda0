/**
 * The ops console's script (plain browser JavaScript, no build step, no external asset): a hash
 * router over three views, sign-in, fleet and organization, each reading only the documented
 * ops endpoints with the credential kept in sessionStorage. Kept free of backticks and template
 * placeholders so it can live in this string.
 */
export const OPS_CONSOLE_JS = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'tally-ops-token';
  var HOUR = 3600000;
  var DAY = 24 * HOUR;
  var main = document.getElementById('main');
  var live = document.getElementById('live');
  var nav = document.getElementById('nav');
  var PALETTE = ['#0969da', '#1a7f37', '#bf8700', '#8250df', '#cf222e', '#1b7c83', '#bc4c00', '#6e7781', '#d63384'];

  function esc(value) {
    return String(value === null || value === undefined ? '' : value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }
  function announce(text) { live.textContent = text; }

  function ApiError(status, body) {
    this.status = status;
    this.body = body;
    this.message = (body && body.message) || ('HTTP ' + status);
  }

  function api(path, credential) {
    return fetch(path, { headers: { 'x-service-token': credential || token() || '', accept: 'application/json' } })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) throw new ApiError(response.status, body);
          return body;
        });
      });
  }

  /** A refused credential ends the session; other errors are shown where they happened. */
  function failed(where) {
    return function (error) {
      if (error instanceof ApiError && error.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn('The credential was refused: ' + error.message);
        return;
      }
      var node = typeof where === 'string' ? document.getElementById(where) : where;
      if (node) node.textContent = String(error.message || error);
      document.body.dataset.view = document.body.dataset.view || 'error';
    };
  }

  function params() {
    var hash = location.hash || '#/';
    var at = hash.indexOf('?');
    return new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
  }
  function setParams(path, values) {
    var query = new URLSearchParams();
    Object.keys(values).forEach(function (k) { if (values[k]) query.set(k, values[k]); });
    var text = query.toString();
    history.replaceState(null, '', '#' + path + (text ? '?' + text : ''));
  }

  function route() {
    if (!token()) return showSignIn();
    nav.hidden = false;
    var match = /^#\/org\/([^/?]+)/.exec(location.hash);
    if (match) return showOrg(decodeURIComponent(match[1]));
    return showFleet();
  }

  function enter(view, title, html) {
    document.body.dataset.view = view;
    document.body.removeAttribute('data-rendered');
    document.title = title + ' · Tally ops console';
    main.innerHTML = html;
    var heading = main.querySelector('h1');
    if (heading) { heading.tabIndex = -1; heading.focus(); }
  }

  // ---------------------------------------------------------------- formatting
  function num(text) { return Number(text); }
  function duration(ms) {
    if (ms <= 0) return 'now';
    var minutes = Math.round(ms / 60000);
    if (minutes < 60) return minutes + ' min';
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + ' h ' + (minutes % 60) + ' min';
    var days = Math.floor(hours / 24);
    if (days < 730) return days + ' d ' + (hours % 24) + ' h';
    return Math.round(days / 365) + ' years';
  }
  function until(iso) { return iso ? 'in ' + duration(new Date(iso).getTime() - Date.now()) : '—'; }
  function when(iso) { return iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—'; }
  function timeCell(iso) {
    return iso ? '<time datetime="' + esc(iso) + '" title="' + esc(when(iso)) + '">' + esc(until(iso)) + '</time>' : '<span class="muted">never</span>';
  }
  var ATTENTION = {
    empty: ['empty', 'Empty / overage'],
    'dry-within-24h': ['dry', 'Dry within 24 h'],
    ok: ['ok', 'OK'],
  };
  function attentionBadge(value) {
    var a = ATTENTION[value] || ['ok', value];
    return '<span class="badge ' + a[0] + '">' + esc(a[1]) + '</span>';
  }
  function suspendedBadge(status) {
    return status === 'suspended' ? ' <span class="badge down" title="every verify answers 403 ORG_SUSPENDED">Suspended</span>' : '';
  }
  function alertBadges(balances) {
    var out = [];
    ['sandbox', 'agent'].forEach(function (kind) {
      balances[kind].firing.forEach(function (f) {
        out.push('<span class="badge alert">' + esc((kind === 'sandbox' ? 'hours ' : 'credits ') + f) + '</span>');
      });
    });
    return out.join('') || '<span class="muted">none</span>';
  }

  // ---------------------------------------------------------------- sign-in
  function showSignIn(message) {
    nav.hidden = true;
    enter('signin', 'Sign in',
      '<div class="signin"><h1>Sign in to the ops console</h1>' +
      '<p class="muted">Everything here is read with the ops service credential (<span class="mono">x-service-token</span>). ' +
      'It is kept in this tab\'s session storage until you sign out or close the tab.</p>' +
      '<form id="signin-form"><label>Service credential<input id="credential" name="credential" type="password" autocomplete="current-password" required></label>' +
      '<button type="submit" class="primary">Sign in</button><p id="signin-error" class="error" role="alert"></p></form></div>');
    if (message) document.getElementById('signin-error').textContent = message;
    var input = document.getElementById('credential');
    input.focus();
    document.getElementById('signin-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var credential = input.value.trim();
      // One cheap documented call proves the credential before it is kept.
      api('/v1/fleet?limit=1', credential).then(function () {
        sessionStorage.setItem(TOKEN_KEY, credential);
        announce('Signed in');
        if (!location.hash || location.hash === '#/signin') location.hash = '#/';
        route();
      }, function (error) {
        document.getElementById('signin-error').textContent = 'Sign-in failed: ' + error.message;
      });
    });
  }

  document.getElementById('sign-out').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = '#/';
    announce('Signed out');
    showSignIn();
  });

  // ---------------------------------------------------------------- fleet
  var SORTS = [['attention', 'Needs attention'], ['emptyAt', 'Time to empty'], ['name', 'Name'], ['id', 'Id']];
  var PAGE = 1000;

  function showFleet() {
    var p = params();
    var state = { q: p.get('q') || '', sort: p.get('sort') || 'attention', offset: Number(p.get('offset')) || 0 };
    enter('fleet', 'Fleet',
      '<h1>Fleet</h1>' +
      '<section class="panel" aria-labelledby="pipeline-h"><h2 id="pipeline-h">Pipeline health ' +
      '<button type="button" id="pipeline-refresh" class="link">refresh</button> <span class="muted">(every 15 s)</span></h2><div id="pipeline"><p class="muted">Loading…</p></div>' +
      '<p id="pipeline-error" class="error" role="alert"></p></section>' +
      '<section aria-labelledby="orgs-h"><h2 id="orgs-h">Organizations</h2>' +
      '<form class="controls" id="fleet-controls" role="search">' +
      '<label>Filter by name or id<input id="fleet-q" type="search" value="' + esc(state.q) + '" placeholder="ORG-… or a name"></label>' +
      '<label>Sort by<select id="fleet-sort">' + SORTS.map(function (s) {
        return '<option value="' + s[0] + '"' + (s[0] === state.sort ? ' selected' : '') + '>' + s[1] + '</option>';
      }).join('') + '</select></label></form>' +
      '<p id="fleet-summary" class="muted"></p><p id="fleet-error" class="error" role="alert"></p>' +
      '<div class="scroll"><table id="fleet"><caption class="visually-hidden">Organizations, their balances and time to empty</caption><thead><tr>' +
      sortHeader('Organization', 'name', state) + sortHeader('Status', 'attention', state) +
      '<th class="num" scope="col">Sandbox hours available</th><th class="num" scope="col">Hours burned / h (24 h)</th>' +
      '<th class="num" scope="col">Agent credits available</th><th class="num" scope="col">Credits burned / h (24 h)</th>' +
      sortHeader('Time to empty', 'emptyAt', state) +
      '<th class="num" scope="col">Running sandboxes</th><th scope="col">Firing alerts</th></tr></thead><tbody></tbody></table></div>' +
      '<div class="pager"><button type="button" id="fleet-prev">Previous page</button><span id="fleet-range"></span><button type="button" id="fleet-next">Next page</button></div></section>');

    var timer = null;
    function update(changes) {
      Object.keys(changes).forEach(function (k) { state[k] = changes[k]; });
      main.querySelectorAll('th button.sort').forEach(function (b) {
        if (b.dataset.sort === state.sort) b.parentNode.setAttribute('aria-sort', 'ascending');
        else b.parentNode.removeAttribute('aria-sort');
      });
      setParams('/', { q: state.q, sort: state.sort === 'attention' ? '' : state.sort, offset: state.offset ? String(state.offset) : '' });
      loadFleet(state);
    }
    document.getElementById('fleet-q').addEventListener('input', function (event) {
      clearTimeout(timer);
      var value = event.target.value.trim();
      timer = setTimeout(function () { update({ q: value, offset: 0 }); }, 250);
    });
    document.getElementById('fleet-controls').addEventListener('submit', function (event) {
      event.preventDefault();
      clearTimeout(timer);
      update({ q: document.getElementById('fleet-q').value.trim(), offset: 0 });
    });
    document.getElementById('fleet-sort').addEventListener('change', function (event) { update({ sort: event.target.value, offset: 0 }); });
    main.querySelectorAll('th button.sort').forEach(function (button) {
      button.addEventListener('click', function () {
        var sort = button.dataset.sort;
        document.getElementById('fleet-sort').value = sort;
        update({ sort: sort, offset: 0 });
      });
    });
    document.getElementById('fleet-prev').addEventListener('click', function () { update({ offset: Math.max(0, state.offset - PAGE) }); });
    document.getElementById('fleet-next').addEventListener('click', function () { update({ offset: state.offset + PAGE }); });
    document.getElementById('pipeline-refresh').addEventListener('click', loadPipeline);
    loadPipeline();
    clearInterval(pipelineTimer);
    pipelineTimer = setInterval(function () {
      if (document.body.dataset.view !== 'fleet') return clearInterval(pipelineTimer);
      loadPipeline();
    }, 15000);
    loadFleet(state);
  }

  function sortHeader(label, sort, state) {
    return '<th scope="col"' + (sort === state.sort ? ' aria-sort="ascending"' : '') + (sort === 'emptyAt' ? ' class="num"' : '') +
      '><button type="button" class="sort" data-sort="' + sort + '" title="Sort by ' + esc(label.toLowerCase()) + '">' + esc(label) + '</button></th>';
  }

  var fleetRequest = 0;
  var pipelineTimer = null;
  function loadFleet(state) {
    var mine = ++fleetRequest;
    var started = performance.now();
    var query = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset), sort: state.sort });
    if (state.q) query.set('q', state.q);
    document.getElementById('fleet-error').textContent = '';
    api('/v1/fleet?' + query.toString()).then(function (page) {
      if (mine !== fleetRequest || document.body.dataset.view !== 'fleet') return;
      var rows = page.organizations.map(function (o) {
        var s = o.balances.sandbox, a = o.balances.agent;
        var cls = o.attention === 'empty' ? 'att-empty' : o.attention === 'dry-within-24h' ? 'att-dry' : '';
        return '<tr class="' + cls + '" data-org="' + esc(o.orgId) + '" data-attention="' + esc(o.attention) + '" data-empty-at="' + esc(o.emptyAt || '') + '">' +
          '<th scope="row"><a href="#/org/' + encodeURIComponent(o.orgId) + '">' + esc(o.name) + '</a>' + suspendedBadge(o.status) + '<div class="id">' + esc(o.orgId) + '</div></th>' +
          '<td>' + attentionBadge(o.attention) + '</td>' +
          '<td class="num">' + esc(s.available) + '<div class="muted">of ' + esc(s.granted) + '</div></td><td class="num">' + esc(s.burnPerHour) + '</td>' +
          '<td class="num">' + esc(a.available) + '<div class="muted">of ' + esc(a.granted) + '</div></td><td class="num">' + esc(a.burnPerHour) + '</td>' +
          '<td class="num">' + timeCell(o.emptyAt) + '</td><td class="num">' + o.runningSandboxes + '</td>' +
          '<td>' + alertBadges(o.balances) + '</td></tr>';
      });
      var body = main.querySelector('#fleet tbody');
      body.innerHTML = rows.join('') || '<tr><td colspan="9" class="muted">No organization matches.</td></tr>';
      var empty = page.organizations.filter(function (o) { return o.attention === 'empty'; }).length;
      var dry = page.organizations.filter(function (o) { return o.attention === 'dry-within-24h'; }).length;
      document.getElementById('fleet-summary').textContent = page.total + ' organizations' + (state.q ? ' matching "' + state.q + '"' : '') +
        ' · on this page: ' + empty + ' empty or in overage, ' + dry + ' running dry within 24 h · burn over the last 24 h, time to empty at that rate (as of ' + when(page.at) + ')';
      var last = Math.min(page.total, page.offset + page.organizations.length);
      document.getElementById('fleet-range').textContent = page.total ? (page.offset + 1) + '–' + last + ' of ' + page.total : '';
      document.getElementById('fleet-prev').disabled = page.offset === 0;
      document.getElementById('fleet-next').disabled = last >= page.total;
      document.body.dataset.rendered = 'fleet';
      document.body.dataset.renderMs = String(Math.round(performance.now() - started));
      announce(page.total + ' organizations listed');
    }, failed('fleet-error'));
  }

  function loadPipeline() {
    var target = document.getElementById('pipeline');
    api('/v1/pipeline').then(function (p) {
      if (!document.getElementById('pipeline')) return;
      var deps = Object.keys(p.dependencies).map(function (name) {
        var d = p.dependencies[name];
        return '<span class="badge ' + (d.status === 'down' ? 'down' : 'up') + '" title="' + esc(d.error || d.detail || '') + '">' + esc(name + ' ' + d.status) + '</span>';
      }).join(' ');
      var dead = p.deadLetters.reduce(function (sum, d) { return sum + d.messages; }, 0);
      var outboxAge = p.outbox.oldestAt ? duration(Date.now() - new Date(p.outbox.oldestAt).getTime()) : null;
      var drift = p.drift
        ? (p.drift.invariant + p.drift.cache === 0 ? '<span class="badge ok">none</span>' : '<span class="badge down">' + p.drift.invariant + ' ledger, ' + p.drift.cache + ' cache</span>') +
          ' <span class="muted">checked ' + esc(when(p.drift.checkedAt)) + '</span>'
        : '<span class="muted">not checked yet (every RECONCILE_INTERVAL_MS)</span>';
      target.innerHTML = '<div class="grid">' +
        '<div class="card"><h3>Dependencies</h3>' + deps + '</div>' +
        '<div class="card"><h3>Consumer lag</h3><div class="big" id="total-lag">' + p.consumer.totalLag + '</div><div class="muted">events not yet posted · ' +
        (p.consumer.polledAt ? 'polled ' + esc(when(p.consumer.polledAt)) : 'not polled yet') + '</div></div>' +
        '<div class="card"><h3>Dead letters</h3><div class="big">' + dead + '</div><div class="muted">' +
        (dead === 0 ? p.deadLetters.length + ' dead-letter topics, all empty' : p.deadLetters.filter(function (d) { return d.messages > 0; })
          .map(function (d) { return esc(d.topic) + ': ' + d.messages; }).join('<br>')) + '</div></div>' +
        '<div class="card"><h3>Outbox backlog</h3><div class="big">' + p.outbox.pending + '</div><div class="muted">' +
        (outboxAge ? 'oldest ' + esc(outboxAge) + ' old' : 'nothing waiting') + '</div></div>' +
        '<div class="card"><h3>Drift (reconcile)</h3>' + drift + '</div></div>' +
        '<details><summary>Lag per partition (' + p.consumer.partitions.length + ')</summary><table id="partitions"><thead><tr><th scope="col">group</th><th scope="col">topic</th><th class="num" scope="col">partition</th><th class="num" scope="col">lag</th></tr></thead><tbody>' +
        p.consumer.partitions.map(function (x) { return '<tr><td>' + esc(x.group) + '</td><td>' + esc(x.topic) + '</td><td class="num">' + x.partition + '</td><td class="num">' + x.lag + '</td></tr>'; }).join('') +
        '</tbody></table></details>';
      document.getElementById('pipeline-error').textContent = '';
    }, failed('pipeline-error'));
  }

  // ---------------------------------------------------------------- organization
  var WINDOWS = [['1', 'Last 24 h', 'hour'], ['7', 'Last 7 days', 'hour'], ['30', 'Last 30 days', 'day'], ['90', 'Last 90 days', 'day']];
  var GROUPS = [['kind', 'Kind'], ['action', 'Action'], ['shape', 'Shape'], ['sandbox', 'Sandbox'], ['key', 'API key'], ['', 'None']];
  var MEASURES = [['sandboxHours', 'Sandbox hours'], ['agentCredits', 'Agent credits'], ['events', 'Events']];

  function options(list, selected) {
    return list.map(function (o) { return '<option value="' + o[0] + '"' + (o[0] === selected ? ' selected' : '') + '>' + esc(o[1]) + '</option>'; }).join('');
  }

  function showOrg(orgId) {
    var p = params();
    var chart = { days: p.get('days') || '7', groupBy: p.has('groupBy') ? p.get('groupBy') : 'kind', measure: p.get('measure') || 'sandboxHours', granularity: p.get('granularity') || '' };
    var base = '/v1/orgs/' + encodeURIComponent(orgId);
    enter('org', orgId,
      '<p><a href="#/">← Fleet</a></p><h1 id="org-title">' + esc(orgId) + '</h1><p id="org-sub" class="muted"></p><p id="org-error" class="error" role="alert"></p>' +
      '<section class="panel" aria-labelledby="bal-h"><h2 id="bal-h">Balances</h2><table id="balances"><thead><tr><th scope="col">balance</th>' +
      '<th class="num" scope="col">granted</th><th class="num" scope="col">consumed</th><th class="num" scope="col">held</th><th class="num" scope="col">overage owed</th><th class="num" scope="col">available</th>' +
      '<th class="num" scope="col">burn / h (last hour)</th><th class="num" scope="col">burn / h (24 h)</th><th class="num" scope="col">empty at (now, last-hour burn)</th></tr></thead><tbody></tbody></table>' +
      '<p><button type="button" id="explain-button" aria-expanded="false" aria-controls="explain">Explain this balance</button></p><div id="explain" hidden></div></section>' +
      '<section class="panel" aria-labelledby="pkg-h"><h2 id="pkg-h">Packages</h2><table id="packages"><thead><tr><th scope="col">package</th><th class="num" scope="col">priority</th>' +
      '<th scope="col">window</th><th class="num" scope="col">sandbox hours (remaining / granted)</th><th class="num" scope="col">agent credits (remaining / granted)</th><th scope="col">status</th><th scope="col">source</th></tr></thead><tbody></tbody></table></section>' +
      '<section class="panel" aria-labelledby="use-h"><h2 id="use-h">Usage</h2><form class="controls" id="usage-controls">' +
      '<label>Window<select id="usage-days">' + options(WINDOWS, chart.days) + '</select></label>' +
      '<label>Buckets<select id="usage-granularity">' + options([['', 'Automatic'], ['hour', 'Hour'], ['day', 'Day']], chart.granularity) + '</select></label>' +
      '<label>Group by<select id="usage-group">' + options(GROUPS, chart.groupBy) + '</select></label>' +
      '<label>Measure<select id="usage-measure">' + options(MEASURES, chart.measure) + '</select></label></form>' +
      '<div id="usage-chart"></div><h3>Remaining balance over the window</h3><div id="burndown-chart"></div></section>' +
      '<section class="panel" aria-labelledby="sbx-h"><h2 id="sbx-h">Running sandboxes and their holds</h2><table id="sandboxes"><thead><tr><th scope="col">sandbox</th><th scope="col">shape</th>' +
      '<th class="num" scope="col">held (hours)</th><th class="num" scope="col">reserved</th><th class="num" scope="col">captured</th><th scope="col">started</th><th scope="col">hold expires</th></tr></thead><tbody></tbody></table></section>' +
      '<section class="panel" aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts</h2><p id="alerts-firing"></p><table id="alerts"><thead><tr><th scope="col">raised</th><th scope="col">type</th><th scope="col">balance</th><th scope="col">detail</th></tr></thead><tbody></tbody></table>' +
      '<h3>Thresholds</h3><p id="thresholds" class="muted">Loading…</p><h3>Webhook endpoints</h3><div id="webhooks"><p class="muted">Loading…</p></div></section>' +
      '<section class="panel" aria-labelledby="ledger-h"><h2 id="ledger-h">Ledger</h2><p class="muted">Newest first; each entry with the event that caused it.</p>' +
      '<div class="scroll"><table id="ledger"><thead><tr><th class="num" scope="col">seq</th><th scope="col">time</th><th scope="col">balance</th><th scope="col">entry</th><th class="num" scope="col">amount</th>' +
      '<th scope="col">package</th><th scope="col">event</th><th scope="col">action</th></tr></thead><tbody></tbody></table></div>' +
      '<p><button type="button" id="ledger-more" hidden>Load older entries</button></p></section>');

    var pending = 5;
    function done() { if (--pending === 0) { document.body.dataset.rendered = 'org'; announce('Organization ' + orgId + ' loaded'); } }
    var fail = failed('org-error');

    api('/v1/fleet?limit=1&q=' + encodeURIComponent(orgId)).then(function (page) {
      var o = page.organizations.filter(function (x) { return x.orgId === orgId; })[0];
      if (!o) return;
      document.getElementById('org-title').textContent = o.name;
      document.getElementById('org-sub').innerHTML = esc(o.orgId) + ' · plan ' + esc(o.plan) + suspendedBadge(o.status) + ' · ' + attentionBadge(o.attention) +
        ' · time to empty (24 h burn): ' + timeCell(o.emptyAt);
      document.getElementById('alerts-firing').innerHTML = 'Firing now: ' + alertBadges(o.balances);
      document.title = o.name + ' · Tally ops console';
    }).then(done, fail);

    var balances = api(base + '/balances');
    balances.then(function (b) {
      var body = main.querySelector('#balances tbody');
      body.innerHTML = ['sandbox', 'agent'].map(function (k) {
        var x = b.balances[k];
        return '<tr data-kind="' + k + '"><th scope="row">' + (k === 'sandbox' ? 'Sandbox hours' : 'Agent credits') + '</th><td class="num">' + esc(x.granted) + '</td><td class="num">' + esc(x.consumed) +
          '</td><td class="num">' + esc(x.held) + '</td><td class="num">' + esc(x.overageOwed) + '</td><td class="num">' + esc(x.available) + '</td><td class="num">' + esc(x.burnRatePerHour.lastHour) + '</td><td class="num">' +
          esc(x.burnRatePerHour.lastDay) + '</td><td class="num">' + (x.forecastDepletionAt ? '<time datetime="' + esc(x.forecastDepletionAt) + '">' + esc(when(x.forecastDepletionAt)) + '</time>' : '—') + '</td></tr>';
      }).join('');
      var sub = document.getElementById('org-sub');
      sub.setAttribute('data-asof', b.asOf);
    }).then(done, fail);

    api(base + '/packages').then(function (list) {
      var now = Date.now();
      main.querySelector('#packages tbody').innerHTML = list.map(function (pk) {
        var status = pk.active ? 'active' : pk.notBefore && new Date(pk.notBefore).getTime() > now ? 'not started' : pk.notAfter && new Date(pk.notAfter).getTime() <= now ? 'expired' : 'inactive';
        if (pk.active && num(pk.sandboxMsRemaining) === 0 && num(pk.agentMilliCreditsRemaining) === 0) status = 'used up';
        return '<tr><td class="mono">' + esc(pk.id.slice(0, 8)) + '</td><td class="num">' + pk.priority + '</td><td>' + esc(pk.notBefore ? when(pk.notBefore) : 'from grant') + ' → ' +
          esc(pk.notAfter ? when(pk.notAfter) : 'never expires') + '</td><td class="num">' + esc(pk.sandboxHoursRemaining) + ' / ' + esc(pk.sandboxHours) + '</td><td class="num">' +
          esc(pk.agentCreditsRemaining) + ' / ' + esc(pk.agentCredits) + '</td><td>' + esc(status) + '</td><td>' + esc(pk.source) + '</td></tr>';
      }).join('') || '<tr><td colspan="7" class="muted">No package.</td></tr>';
    }).then(done, fail);

    api(base + '/sandboxes').then(function (list) {
      main.querySelector('#sandboxes tbody').innerHTML = list.map(function (s) {
        return '<tr><td class="mono">' + esc(s.sandboxId) + '</td><td>' + esc(s.shape) + ' <span class="muted">×' + esc(s.pricePerHour) + '</span></td><td class="num">' + esc(s.heldHours) +
          '</td><td class="num">' + esc(s.reservedHours) + '</td><td class="num">' + esc(s.capturedHours) + '</td><td>' + esc(when(s.startedAt)) + '</td><td>' + timeCell(s.expiresAt) + '</td></tr>';
      }).join('') || '<tr><td colspan="7" class="muted">No sandbox holds hours now.</td></tr>';
    }).then(done, fail);

    api(base + '/alerts?limit=50').then(function (list) {
      main.querySelector('#alerts tbody').innerHTML = list.map(function (a) {
        var d = a.data || {};
        var detail = a.threshold ? a.threshold + '% consumed' : '';
        if (d.forecastDepletionAt) detail += (detail ? ' · ' : '') + 'forecast when raised: empty at ' + when(d.forecastDepletionAt);
        return '<tr><td>' + esc(when(a.createdAt)) + '</td><td>' + esc(a.type) + '</td><td>' + esc(a.kind) + '</td><td>' + esc(detail) + '</td></tr>';
      }).join('') || '<tr><td colspan="4" class="muted">No alert raised.</td></tr>';
    }).then(done, fail);

    api('/v1/orgs/' + encodeURIComponent(orgId) + '/alert-thresholds').then(function (t) {
      document.getElementById('thresholds').textContent = t.thresholds.map(function (n) { return n + ' %'; }).join(', ') +
        (t.source === 'organization' ? " (this organization's own)" : " (metering's default, ALERT_THRESHOLDS)") + '; depletion and the forecast always.';
    }, function (error) { document.getElementById('thresholds').textContent = 'Unavailable: ' + error.message; });
    loadWebhooks(orgId);

    var cursor = null;
    function loadLedger() {
      api(base + '/ledger?limit=100' + (cursor ? '&cursor=' + cursor : '')).then(function (page) {
        main.querySelector('#ledger tbody').insertAdjacentHTML('beforeend', page.entries.map(function (e) {
          return '<tr><td class="num">' + esc(e.seq) + '</td><td>' + esc(when(e.createdAt)) + '</td><td>' + esc(e.kind) + '</td><td>' + esc(e.entryType) + '</td><td class="num">' + esc(e.amountDisplay) +
            '</td><td class="mono">' + esc(e.packageId ? e.packageId.slice(0, 8) : '—') + '</td><td class="mono" title="' + esc(e.event.source) + '">' + esc(e.event.id) +
            (e.event.topic ? '<div class="muted">' + esc(e.event.topic + '/' + e.event.partition + '@' + e.event.offset) + '</div>' : '') + '</td><td>' + esc(e.event.action || '') + '</td></tr>';
        }).join(''));
        cursor = page.nextCursor;
        document.getElementById('ledger-more').hidden = !cursor;
      }, fail);
    }
    document.getElementById('ledger-more').addEventListener('click', loadLedger);
    loadLedger();

    var explainButton = document.getElementById('explain-button');
    explainButton.addEventListener('click', function () {
      var box = document.getElementById('explain');
      if (explainButton.getAttribute('aria-expanded') === 'true') {
        explainButton.setAttribute('aria-expanded', 'false');
        box.hidden = true;
        return;
      }
      api(base + '/balances/explain').then(function (x) {
        box.innerHTML = ['sandbox', 'agent'].map(function (k) { return explainKind(k, x.balances[k]); }).join('');
        box.hidden = false;
        explainButton.setAttribute('aria-expanded', 'true');
        box.dataset.rendered = 'true';
      }, fail);
    });

    function redraw() {
      chart.days = document.getElementById('usage-days').value;
      chart.granularity = document.getElementById('usage-granularity').value;
      chart.groupBy = document.getElementById('usage-group').value;
      chart.measure = document.getElementById('usage-measure').value;
      setParams('/org/' + encodeURIComponent(orgId), { days: chart.days, groupBy: chart.groupBy || 'none', measure: chart.measure, granularity: chart.granularity });
      loadUsage(base, chart, balances);
    }
    document.getElementById('usage-controls').addEventListener('change', redraw);
    if (chart.groupBy === 'none') chart.groupBy = '';
    document.getElementById('usage-group').value = chart.groupBy;
    loadUsage(base, chart, balances);
  }

  function entries(n) { return n === 1 ? '1 entry' : n + ' entries'; }
  function loadWebhooks(orgId) {
    var target = document.getElementById('webhooks');
    api('/v1/orgs/' + encodeURIComponent(orgId) + '/webhooks').then(function (list) {
      if (list.length === 0) { target.innerHTML = '<p class="muted">No endpoint: alerts go to metering.alerts.v1 and the ops endpoints only.</p>'; return; }
      target.innerHTML = list.map(function (w) {
        return '<div class="card" data-webhook="' + esc(w.id) + '"><div><span class="mono">' + esc(w.url) + '</span> <span class="badge ' + (w.status === 'active' ? 'ok' : 'down') + '">' + esc(w.status) + '</span>' +
          (w.consecutiveFailures ? ' <span class="muted">' + w.consecutiveFailures + ' failures in a row</span>' : '') + '</div>' +
          '<details><summary>Recent deliveries</summary><div class="deliveries muted">Loading…</div></details></div>';
      }).join('');
      target.querySelectorAll('[data-webhook]').forEach(function (card) {
        card.querySelector('details').addEventListener('toggle', function (event) {
          if (!event.target.open || card.dataset.loaded) return;
          card.dataset.loaded = 'true';
          var box = card.querySelector('.deliveries');
          api('/v1/webhooks/' + encodeURIComponent(card.dataset.webhook) + '/deliveries?limit=20').then(function (attempts) {
            box.innerHTML = attempts.length === 0 ? 'No attempt yet.' : '<table><thead><tr><th scope="col">at</th><th scope="col">alert</th><th class="num" scope="col">attempt</th><th scope="col">result</th><th class="num" scope="col">ms</th></tr></thead><tbody>' +
              attempts.map(function (a) {
                return '<tr><td>' + esc(when(a.at)) + '</td><td class="mono">' + esc(a.alertId) + '</td><td class="num">' + a.attempt + '</td><td class="' + (a.ok ? 'ok-text' : 'bad-text') + '">' +
                  esc(a.ok ? 'delivered (' + a.httpStatus + ')' : (a.httpStatus ? 'HTTP ' + a.httpStatus : '') + (a.error ? ' ' + a.error : '')) + '</td><td class="num">' + a.durationMs + '</td></tr>';
              }).join('') + '</tbody></table>';
          }, function (error) { box.textContent = error.message; });
        });
      });
    }, function (error) { target.textContent = 'Unavailable: ' + error.message; });
  }

  var ENTRY_LABELS = { grant: 'Granted', debit: 'Consumed (debits)', forfeit: 'Forfeited at expiry', reversal: 'Reversed (voided admissions)', overage: 'Overage' };
  function explainKind(kind, x) {
    var unit = kind === 'sandbox' ? 'h' : 'credits';
    var order = Object.keys(ENTRY_LABELS);
    var rows = x.entries.filter(function (e) { return e.onPackage; }).sort(function (a, b) {
      return order.indexOf(a.entryType) - order.indexOf(b.entryType);
    }).map(function (e) {
      return '<tr><td>' + esc(ENTRY_LABELS[e.entryType] || e.entryType) + '</td><td class="num">' + esc(e.amountDisplay) + ' ' + unit + '</td><td class="muted">' + entries(e.count) + '</td></tr>';
    });
    var overage = x.entries.filter(function (e) { return !e.onPackage; });
    return '<h3>' + (kind === 'sandbox' ? 'Sandbox hours' : 'Agent credits') + '</h3><table data-kind="' + kind + '"><tbody>' + rows.join('') +
      '<tr class="total"><td>Ledger total on packages</td><td class="num">' + esc(x.ledgerTotal) + ' ' + unit + '</td><td class="' + (x.balanced ? 'ok-text' : 'bad-text') + '">' +
      (x.balanced ? '= what the packages hold (' + esc(x.packagesRemaining) + '): balanced' : '≠ what the packages hold (' + esc(x.packagesRemaining) + '): drift, run npm run reconcile') + '</td></tr>' +
      '<tr><td>− not active now (not started, or expired and not yet forfeited)</td><td class="num">' + esc(x.inactive) + ' ' + unit + '</td><td></td></tr>' +
      '<tr><td>− held by running sandboxes</td><td class="num">' + esc(x.held) + ' ' + unit + '</td><td></td></tr>' +
      '<tr class="total"><td>Available</td><td class="num">' + esc(x.available) + ' ' + unit + '</td><td></td></tr>' +
      (num(x.overageOwed) ? '<tr><td>Agent overage owed (billed once; it uses up the overdraft limit, never these credits)</td><td class="num">' + esc(x.overageOwed) + ' ' + unit + '</td><td></td></tr>' : '') +
      overage.map(function (e) {
        return '<tr><td>Overage recorded (used with nothing left; on no package)</td><td class="num">' + esc(e.amountDisplay) + ' ' + unit + '</td><td class="muted">' + entries(e.count) + '</td></tr>';
      }).join('') + '</tbody></table>';
  }

  // ---------------------------------------------------------------- charts (inline SVG)
  var NS = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(parent, x, y, text, anchor) {
    var node = svgEl('text', { x: x, y: y, 'font-size': 11, fill: '#57606a', 'text-anchor': anchor || 'start' }, parent);
    node.textContent = text;
  }
  function round(v) { return Math.round(v * 1000) / 1000; }

  function loadUsage(base, chart, balancesPromise) {
    var days = Number(chart.days) || 7;
    var granularity = chart.granularity || (days <= 7 ? 'hour' : 'day');
    var step = granularity === 'hour' ? HOUR : DAY;
    var to = Math.ceil(Date.now() / step) * step;
    var from = to - days * DAY;
    var query = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), granularity: granularity });
    if (chart.groupBy) query.set('groupBy', chart.groupBy);
    var target = document.getElementById('usage-chart');
    Promise.all([api(base + '/usage?' + query.toString()), balancesPromise]).then(function (r) {
      var usage = r[0], balances = r[1];
      var field = chart.measure;
      var buckets = [];
      for (var t = new Date(usage.from).getTime(); t < new Date(usage.to).getTime(); t += step) buckets.push(t);
      var index = {};
      buckets.forEach(function (b, i) { index[b] = i; });
      var groups = {};
      usage.series.forEach(function (pt) {
        var g = pt.group === null ? 'all' : pt.group === '' ? '(none)' : pt.group;
        var v = num(pt[field]);
        if (!v) return;
        groups[g] = groups[g] || { name: g, total: 0, values: {} };
        groups[g].total += v;
        var i = index[new Date(pt.start).getTime()];
        if (i !== undefined) groups[g].values[i] = (groups[g].values[i] || 0) + v;
      });
      var list = Object.keys(groups).map(function (k) { return groups[k]; }).sort(function (a, b) { return b.total - a.total; });
      if (list.length > 8) {
        var other = { name: 'other', total: 0, values: {} };
        list.slice(7).forEach(function (g) {
          other.total += g.total;
          Object.keys(g.values).forEach(function (i) { other.values[i] = (other.values[i] || 0) + g.values[i]; });
        });
        list = list.slice(0, 7).concat([other]);
      }
      var totals = buckets.map(function (_, i) { return list.reduce(function (sum, g) { return sum + (g.values[i] || 0); }, 0); });
      var unitName = MEASURES.filter(function (m) { return m[0] === field; })[0][1].toLowerCase();
      target.innerHTML = '';
      var W = 900, H = 240, P = 52;
      var svg = svgEl('svg', { class: 'chart', id: 'usage', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
        'aria-label': unitName + ' per ' + granularity + ', ' + (chart.groupBy ? 'by ' + chart.groupBy : 'in total') + ', ' + round(totals.reduce(function (a, b) { return a + b; }, 0)) + ' in the window' }, target);
      var max = Math.max.apply(null, [1e-9].concat(totals));
      svgEl('line', { x1: P, y1: H - 30, x2: W - 10, y2: H - 30, stroke: '#8c959f' }, svg);
      svgEl('line', { x1: P, y1: 10, x2: P, y2: H - 30, stroke: '#8c959f' }, svg);
      label(svg, P - 4, 16, String(round(max)), 'end');
      label(svg, P - 4, H - 30, '0', 'end');
      var slot = (W - P - 14) / Math.max(1, buckets.length);
      var bw = Math.max(1, slot - (slot > 4 ? 2 : 0));
      buckets.forEach(function (b, i) {
        var y = H - 30;
        list.forEach(function (g, gi) {
          var v = g.values[i] || 0;
          if (!v) return;
          var h = ((H - 40) * v) / max;
          y -= h;
          var rect = svgEl('rect', { x: P + 1 + i * slot, y: y, width: bw, height: h, fill: PALETTE[gi % PALETTE.length], class: 'bar', 'data-group': g.name, 'data-start': new Date(b).toISOString(), 'data-value': round(v) }, svg);
          svgEl('title', {}, rect).textContent = new Date(b).toISOString().slice(0, granularity === 'hour' ? 13 : 10) + ' · ' + g.name + ': ' + round(v);
        });
      });
      label(svg, P, H - 12, new Date(buckets[0]).toISOString().slice(0, 10));
      label(svg, W - 10, H - 12, new Date(buckets[buckets.length - 1]).toISOString().slice(0, granularity === 'hour' ? 13 : 10).replace('T', ' '), 'end');
      var legend = document.createElement('ul');
      legend.className = 'legend';
      legend.innerHTML = list.map(function (g, gi) {
        return '<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="' + PALETTE[gi % PALETTE.length] + '"></rect></svg>' + esc(g.name) + ': ' + round(g.total) + '</li>';
      }).join('') || '<li class="muted">No ' + esc(unitName) + ' in this window.</li>';
      target.appendChild(legend);
      var details = document.createElement('details');
      details.innerHTML = '<summary>Show the data as a table</summary><table><thead><tr><th scope="col">' + granularity + '</th>' +
        list.map(function (g) { return '<th class="num" scope="col">' + esc(g.name) + '</th>'; }).join('') + '</tr></thead><tbody>' +
        buckets.map(function (b, i) {
          if (!totals[i]) return '';
          return '<tr><td>' + esc(new Date(b).toISOString().slice(0, granularity === 'hour' ? 13 : 10).replace('T', ' ')) + '</td>' +
            list.map(function (g) { return '<td class="num">' + round(g.values[i] || 0) + '</td>'; }).join('') + '</tr>';
        }).join('') + '</tbody></table>';
      target.appendChild(details);
      drawBurndown(balances, field, buckets, totals);
    }, failed('org-error'));
  }

  /** What was left at the end of each bucket: now's remainder plus everything consumed after it. */
  function drawBurndown(balances, field, buckets, totals) {
    var target = document.getElementById('burndown-chart');
    target.innerHTML = '';
    var kind = field === 'agentCredits' ? 'agent' : field === 'sandboxHours' ? 'sandbox' : null;
    if (!kind) { target.innerHTML = '<p class="muted">Choose sandbox hours or agent credits to see the remaining balance.</p>'; return; }
    var b = balances.balances[kind];
    var now = num(b.available) + num(b.held);
    var remaining = new Array(buckets.length);
    var after = 0;
    for (var i = buckets.length - 1; i >= 0; i--) { remaining[i] = now + after; after += totals[i]; }
    var W = 900, H = 200, P = 52;
    var svg = svgEl('svg', { class: 'chart', id: 'burndown', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'remaining ' + b.unit + ' over the window: from ' + round(now + after) + ' to ' + round(now) }, target);
    var max = Math.max.apply(null, [1].concat(remaining, [now + after]));
    svgEl('line', { x1: P, y1: H - 30, x2: W - 10, y2: H - 30, stroke: '#8c959f' }, svg);
    svgEl('line', { x1: P, y1: 10, x2: P, y2: H - 30, stroke: '#8c959f' }, svg);
    label(svg, P - 4, 16, String(round(max)), 'end');
    label(svg, P - 4, H - 30, '0', 'end');
    var x = function (j) { return P + ((W - P - 20) * j) / Math.max(1, buckets.length - 1); };
    var y = function (v) { return H - 30 - ((H - 40) * Math.max(0, v)) / max; };
    svgEl('polyline', { points: remaining.map(function (v, j) { return x(j) + ',' + y(v); }).join(' '), fill: 'none', stroke: '#0969da', 'stroke-width': 2 }, svg);
  }

  window.addEventListener('hashchange', route);
  route();
})();
`;
