/**
 * The ops console's document and style sheet: a shell with no data in it. Everything it shows is
 * read by ops-console.script.ts from the documented ops endpoints with the credential the operator
 * signed in with (docs/OPS-CONSOLE.md).
 */
export const OPS_CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tally ops console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ops/console.css">
<script src="/ops/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="#/">Tally ops</a>
  <nav aria-label="Main" id="nav" hidden>
    <a href="#/">Fleet</a>
    <button type="button" id="sign-out" class="link">Sign out</button>
  </nav>
</header>
<main id="main" tabindex="-1">
  <p class="muted">Loading…</p>
  <noscript>The ops console needs JavaScript.</noscript>
</main>
<p id="live" class="visually-hidden" role="status" aria-live="polite"></p>
</body>
</html>
`;

export const OPS_CONSOLE_CSS = `
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --panel: #f6f8fa; --accent: #0969da;
  --red: #cf222e; --red-bg: #ffebe9; --amber: #9a6700; --amber-bg: #fff8c5; --green: #1a7f37; --green-bg: #dafbe1; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 4px; background: #fff; padding: 4px 8px; z-index: 10; }
.skip:focus { left: 8px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.top { display: flex; align-items: center; justify-content: space-between; padding: 10px 24px;
  border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 600; font-size: 16px; color: var(--fg); text-decoration: none; }
nav { display: flex; gap: 16px; align-items: center; }
main { padding: 16px 24px 48px; max-width: 1400px; }
main:focus, h1:focus { outline: none; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
input, select, button { font: inherit; padding: 5px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.link { border: 0; background: none; color: var(--accent); padding: 0; text-decoration: underline; }
label { display: inline-flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--muted); }
label > input, label > select { font-size: 14px; color: var(--fg); }
.controls { display: flex; gap: 12px; align-items: flex-end; flex-wrap: wrap; margin: 8px 0 12px; }
.error { color: var(--red); min-height: 1.2em; margin: 6px 0; }
.signin { max-width: 440px; margin: 48px auto; padding: 24px; border: 1px solid var(--line); border-radius: 8px; }
.signin form { display: flex; flex-direction: column; gap: 12px; }
.signin label { font-size: 14px; color: var(--fg); }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--panel); font-weight: 600; font-size: 12px; position: sticky; top: 0; }
th button.sort { border: 0; background: none; padding: 0; font-weight: 600; font-size: 12px; color: var(--fg); }
th[aria-sort=ascending] button.sort::after { content: " ▲"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.att-empty { background: var(--red-bg); }
tr.att-dry { background: var(--amber-bg); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; border: 1px solid transparent; white-space: nowrap; }
.badge.empty, .badge.down { background: var(--red-bg); color: var(--red); border-color: var(--red); }
.badge.dry, .badge.warn { background: var(--amber-bg); color: var(--amber); border-color: var(--amber); }
.badge.ok, .badge.up { background: var(--green-bg); color: var(--green); border-color: var(--green); }
.badge.alert { background: #fff; color: var(--red); border-color: var(--red); margin-right: 4px; }
.id { color: var(--muted); font-family: ui-monospace, monospace; font-size: 11px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fff; overflow-wrap: anywhere; }
.card h3 { margin: 0 0 6px; }
.card .big { font-size: 20px; font-weight: 600; }
section.panel { border: 1px solid var(--line); border-radius: 8px; padding: 4px 14px 14px; margin: 16px 0; }
.pager { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; padding: 0; margin: 6px 0; font-size: 12px; }
.legend svg { vertical-align: middle; margin-right: 4px; }
svg.chart { border: 1px solid var(--line); background: #fff; max-width: 100%; height: auto; }
.explain { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; margin: 8px 0; }
.explain table { width: auto; }
.explain td { border: 0; padding: 2px 10px; }
.explain tr.total td { border-top: 1px solid var(--fg); font-weight: 600; }
.ok-text { color: var(--green); }
.bad-text { color: var(--red); }
details summary { cursor: pointer; color: var(--accent); }
.scroll { max-height: 70vh; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
`;
