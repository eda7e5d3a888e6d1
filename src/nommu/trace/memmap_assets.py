# ruff: noqa: E501
"""The fixed parts of the memory map page (trace/memmap.py): SVG patterns, CSS,
the script behind the timeline, and the HTML template. Kept apart from the
code that fills them in; everything ends up inline in the one HTML file."""

PATTERNS = """<defs>
<pattern id="hatch" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="7" fill="rgba(255,255,255,.42)"/></pattern>
<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse"><circle cx="3" cy="3" r="1.3" fill="rgba(255,255,255,.55)"/></pattern>
<pattern id="cross" width="8" height="8" patternUnits="userSpaceOnUse"><path d="M0,0 L8,8 M8,0 L0,8" stroke="rgba(255,255,255,.6)" stroke-width="1.4"/></pattern>
</defs>"""

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --ok:#16a34a; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin: 0; padding: 18px 22px 28px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
header h1 { font-size: 20px; margin: 0 0 2px; }
header h1 code { font-size: 18px; background: #eef2f7; padding: 1px 6px; border-radius: 5px; }
header p { margin: 0; color: var(--muted); }
.explain { margin: 8px 0 12px; max-width: 1100px; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 10px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px 14px; min-width: 150px; }
.card b { display: block; font-size: 19px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.big b { color: var(--ok); }
#banner { display: none; margin: 8px 0; padding: 10px 14px; border-radius: 10px; background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; font-weight: 600; }
#banner.on { display: block; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 10px 10px 6px; margin: 10px 0; overflow-x: auto; }
.controls { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; padding: 4px 6px 8px; }
.controls input[type=range] { flex: 1; min-width: 300px; accent-color: #4e79a7; }
button { font: inherit; border: 1px solid #cbd5e1; background: #fff; border-radius: 7px; padding: 3px 10px; cursor: pointer; }
button:hover { background: #eef2f7; }
#where { font-variant-numeric: tabular-nums; color: var(--muted); min-width: 170px; }
#desc { padding: 0 6px 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
svg text { font: 11px ui-monospace, "DejaVu Sans Mono", monospace; }
svg .addr, svg .axis { fill: var(--muted); text-anchor: end; }
svg .row { fill: #eef0f3; }
svg .tlbg { fill: #f3f4f6; }
svg g.p rect { stroke: #fff; stroke-width: 1; }
svg g.p rect.pat { stroke: none; }
svg g.p text { fill: #fff; text-anchor: middle; pointer-events: none; font-size: 10.5px; font-weight: 600; }
svg g.free rect { fill: #eef0f3; }
svg g.free text { fill: #9ca3af; font-weight: 400; }
svg g.largest rect { fill: #dcfce7; stroke: var(--ok); stroke-width: 2; stroke-dasharray: 6 3; }
svg g.largest text { fill: #15803d; font-weight: 700; }
svg g.fail rect { fill: rgba(220, 38, 38, .10); stroke: var(--bad); stroke-width: 2.2; stroke-dasharray: 7 4; }
svg g.fail text { fill: var(--bad); font-weight: 700; font-size: 12px; }
svg g.p:hover rect { filter: brightness(1.12); }
svg .off { display: none; }
svg .used { fill: #c7d7ea; stroke: #4e79a7; stroke-width: 1; }
svg .big { fill: none; stroke: var(--ok); stroke-width: 1.6; }
svg .failmark { fill: var(--bad); }
#cursor { stroke: var(--ink); stroke-width: 1.5; }
#timeline { cursor: pointer; }
.legend { display: flex; gap: 36px; flex-wrap: wrap; margin-top: 6px; }
.legend h3, h3 { font-size: 13px; margin: 6px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.legend ul { list-style: none; margin: 0; padding: 0; columns: 2; column-gap: 28px; }
.legend li { display: flex; align-items: center; gap: 7px; margin: 2px 0; break-inside: avoid; }
.legend svg { border-radius: 3px; }
.sw { display: inline-block; width: 22px; height: 14px; border-radius: 3px; }
.sw.free { background: #eef0f3; border: 1px solid #d1d5db; }
.sw.largest { background: #dcfce7; border: 2px dashed var(--ok); }
.sw.failed { background: #fef2f2; border: 2px dashed var(--bad); }
ol.fails { margin: 4px 0; padding-left: 22px; }
ol.fails li { margin: 3px 0; }
.nofail { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; }
"""

SCRIPT = """
const D = JSON.parse(document.getElementById('memmap-data').textContent);
const pieces = Array.from(document.querySelectorAll('#ram g.p'));
const fails = Array.from(document.querySelectorAll('#ram g.fail'));
const slider = document.getElementById('step');
const kib = n => n >= 4194304 ? (n / 1048576).toFixed(1) + ' MiB' : Math.floor(n / 1024) + ' KiB';
let cur = -1, timer = null;
function show(s) {
  s = Math.max(0, Math.min(D.steps - 1, s));
  if (s === cur) return;
  cur = s;
  for (const g of pieces) g.classList.toggle('off', !(+g.dataset.b <= s && s < +g.dataset.d));
  for (const g of fails) g.classList.toggle('off', +g.dataset.s !== s);
  document.querySelectorAll('#ram g.largest').forEach(g => g.classList.remove('largest'));
  const big = document.getElementById('p' + D.largest[s]);
  if (big) big.classList.add('largest');
  const free = D.free[s], used = D.total - free, big2 = D.largestSize[s];
  document.getElementById('used').textContent = kib(used) + ' (' + Math.round(100 * used / D.total) + '%)';
  document.getElementById('free').textContent = kib(free);
  document.getElementById('largest').textContent = kib(big2) + (free ? ' (' + Math.round(100 * big2 / free) + '% of free)' : '');
  document.getElementById('nfree').textContent = D.nfree[s];
  document.getElementById('where').textContent = 'step ' + s + ' of ' + (D.steps - 1) + ' · t = ' + D.time[s].toFixed(3) + ' s';
  document.getElementById('desc').textContent = D.desc[s];
  const banner = document.getElementById('banner');
  banner.textContent = D.fails[s] ? '\\u2716 ' + D.fails[s] : '';
  banner.classList.toggle('on', !!D.fails[s]);
  const n = Math.max(D.steps - 1, 1), x = (LEFT + s * WIDTH / n).toFixed(1);
  const c = document.getElementById('cursor');
  c.setAttribute('x1', x); c.setAttribute('x2', x);
  slider.value = s;
}
const LEFT = +slider.dataset.left, WIDTH = +slider.dataset.width;
slider.addEventListener('input', () => show(+slider.value));
document.querySelectorAll('button[data-step]').forEach(b => b.addEventListener('click', () => show(+b.dataset.step)));
document.getElementById('prev').onclick = () => show(cur - 1);
document.getElementById('next').onclick = () => show(cur + 1);
document.getElementById('first').onclick = () => show(0);
document.getElementById('last').onclick = () => show(D.steps - 1);
document.getElementById('play').onclick = e => {
  if (timer) { clearInterval(timer); timer = null; e.target.textContent = '\\u25b6 play'; return; }
  if (cur >= D.steps - 1) show(0);
  const stride = Math.max(1, Math.round(D.steps / 300));
  e.target.textContent = '\\u23f8 pause';
  timer = setInterval(() => { show(cur + stride); if (cur >= D.steps - 1) document.getElementById('play').click(); }, 40);
};
document.getElementById('timeline').addEventListener('click', e => {
  const r = e.currentTarget.getBoundingClientRect(), scale = r.width / e.currentTarget.viewBox.baseVal.width;
  const x = (e.clientX - r.left) / scale;
  show(Math.round((x - LEFT) / WIDTH * (D.steps - 1)));
});
show(D.default);
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nommu memory map: {title}</title>
<style>{css}</style></head>
<body>
<header><h1>Physical memory of <code>{title}</code></h1><p>{head}</p></header>
<p class="explain">{explain} Each row below is {row} of RAM; hover over a block for its
owner, kind, address and size.</p>
<div class="cards">
<div class="card"><span>in use</span><b id="used">&ndash;</b></div>
<div class="card"><span>free in total</span><b id="free">&ndash;</b></div>
<div class="card big"><span>largest free block</span><b id="largest">&ndash;</b></div>
<div class="card"><span>free runs</span><b id="nfree">&ndash;</b></div>
</div>
<div id="banner" role="alert"></div>
<div class="panel">
<div class="controls">
<button id="first" title="the start">|◀</button><button id="prev" title="one step back">◀</button>
<button id="next" title="one step on">▶</button><button id="last" title="the end">▶|</button>
<button id="play">▶ play</button>
<input type="range" id="step" min="0" max="{last}" value="{default}" data-left="{left}" data-width="{width}" aria-label="step">
<span id="where"></span></div>
<div id="desc"></div>
{ram}
</div>
<div class="panel">{timeline}
<p class="note">Blue: memory in use; green: the largest free block; red marks: failed
allocations. Click to jump.</p></div>
{fails}
{legend}
<script type="application/json" id="memmap-data">{data}</script>
<script>{script}</script>
</body></html>
"""
