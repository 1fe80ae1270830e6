/**
 * The generated Grafana dashboard without Grafana: a page that draws its panels (same layout,
 * same queries, Grafana's variables filled in as Grafana would) from a Prometheus, so the
 * dashboard can be looked at, and screenshotted in Chromium, where Grafana cannot be installed.
 * It is a preview of what the queries return, not Grafana's rendering.
 *
 *   npx tsx deploy/dashboard-preview.ts --prometheus http://127.0.0.1:9090 [--port 3001] [--minutes 15]
 *   chromium --headless --screenshot=dashboard.png --window-size=1600,2000 http://127.0.0.1:3001/
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ROOT } from './generate.ts';
import { GRAFANA_DASHBOARD, SCRAPE_INTERVAL } from './observability.ts';

const { values: options } = parseArgs({
  options: {
    prometheus: { type: 'string', default: 'http://127.0.0.1:9090' },
    port: { type: 'string', default: '3001' },
    minutes: { type: 'string', default: '15' },
  },
});

const page = (dashboard: string, minutes: number) => `<!doctype html>
<meta charset="utf-8">
<title>Preview: dashboard</title>
<style>
  body { background: #111217; color: #ccccdc; font: 13px system-ui, sans-serif; margin: 8px; }
  #grid { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: 30px; gap: 6px; }
  .panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 3px; padding: 6px 8px; overflow: hidden; display: flex; flex-direction: column; }
  .title { font-weight: 600; margin-bottom: 4px; }
  .stat { flex: 1; display: flex; align-items: center; justify-content: center; font-size: 30px; font-weight: 600; }
  svg { flex: 1; width: 100%; min-height: 0; }
  .legend { font-size: 11px; display: flex; flex-wrap: wrap; gap: 2px 10px; max-height: 44px; overflow: hidden; }
  .legend span::before { content: ''; display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; background: var(--c); }
  h1 { font-size: 16px; margin: 4px 0 10px; }
</style>
<h1 id="heading"></h1>
<div id="grid"></div>
<script>
const dashboard = ${dashboard};
const minutes = ${minutes};
const scrapeSeconds = ${Number.parseInt(SCRAPE_INTERVAL, 10)};
const colors = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#fade2a', '#ff9830', '#c4162a', '#96d98d', '#ca95e5', '#ffb357'];
const end = Math.floor(Date.now() / 1000);
const start = end - minutes * 60;
const step = Math.max(scrapeSeconds, Math.ceil((end - start) / 300));
// Grafana's own rules: $__rate_interval is the larger of four scrapes and a step plus a scrape.
const fill = (expr) => expr
  .replaceAll('$__rate_interval', Math.max(4 * scrapeSeconds, step + scrapeSeconds) + 's')
  .replaceAll('$__range', minutes * 60 + 's')
  .replaceAll('$__interval', step + 's');
const format = (value, unit) => {
  if (value === undefined || Number.isNaN(value)) return 'No data';
  if (unit === 'bytes') return (value / 1048576).toFixed(0) + ' MiB';
  if (unit === 's') return value < 1 ? (value * 1000).toFixed(value < 0.01 ? 2 : 0) + ' ms' : value.toFixed(2) + ' s';
  const number = Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
  return number + (unit === 'reqps' ? ' req/s' : unit === 'ops' ? ' /s' : '');
};
const legendOf = (format, metric) => !format || format === '__auto'
  ? Object.entries(metric).map(([k, v]) => k + '=' + v).join(', ') || 'value'
  : format.replace(/\\{\\{\\s*(\\w+)\\s*\\}\\}/g, (_, name) => metric[name] ?? '');
async function query(expr) {
  const url = '/api/v1/query_range?' + new URLSearchParams({ query: fill(expr), start, end, step });
  const body = await (await fetch(url)).json();
  if (body.status !== 'success') throw new Error(body.error);
  return body.data.result.map((series) => ({ metric: series.metric, points: series.values.map(([t, v]) => [t, Number(v)]) }));
}
async function draw(panel) {
  const element = document.createElement('div');
  element.className = 'panel';
  const { x, y, w, h } = panel.gridPos;
  element.style.gridColumn = (x + 1) + ' / span ' + w;
  element.style.gridRow = (y + 1) + ' / span ' + h;
  element.innerHTML = '<div class="title"></div>';
  element.firstChild.textContent = panel.title;
  document.getElementById('grid').append(element);
  const unit = panel.fieldConfig.defaults.unit;
  const series = (await Promise.all(panel.targets.map(async (target) =>
    (await query(target.expr)).map((s) => ({ ...s, name: legendOf(target.legendFormat, s.metric) }))))).flat();
  if (panel.type === 'stat') {
    const last = series[0]?.points.filter(([, v]) => !Number.isNaN(v)).at(-1)?.[1];
    const steps = panel.fieldConfig.defaults.thresholds.steps;
    const color = steps.filter((s) => s.value === null || last >= s.value).at(-1)?.color;
    const stat = document.createElement('div');
    stat.className = 'stat';
    stat.style.color = { green: '#73bf69', orange: '#ff9830', red: '#f2495c' }[color] ?? '#ccccdc';
    stat.textContent = format(last, unit);
    element.append(stat);
    return;
  }
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => !Number.isNaN(v));
  const top = Math.max(...values, 0) || 1;
  const [width, height] = [1000, 300];
  const svg = ['<svg viewBox="0 0 ' + width + ' ' + height + '" preserveAspectRatio="none">'];
  for (const fraction of [0, 0.5, 1]) {
    const lineY = height - fraction * (height - 14) - 1;
    svg.push('<line x1="0" x2="' + width + '" y1="' + lineY + '" y2="' + lineY + '" stroke="#2c3235"/>');
    svg.push('<text x="2" y="' + (lineY - 2) + '" fill="#8e8e8e" font-size="12">' + format(top * fraction, unit) + '</text>');
  }
  series.forEach((s, index) => {
    const points = s.points.filter(([, v]) => !Number.isNaN(v))
      .map(([t, v]) => ((t - start) / (end - start) * width).toFixed(1) + ',' + (height - v / top * (height - 14) - 1).toFixed(1));
    svg.push('<polyline fill="none" stroke-width="2" vector-effect="non-scaling-stroke" stroke="' + colors[index % colors.length] + '" points="' + points.join(' ') + '"/>');
  });
  svg.push('</svg>');
  element.insertAdjacentHTML('beforeend', svg.join(''));
  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((s, index) => {
    const item = document.createElement('span');
    item.style.setProperty('--c', colors[index % colors.length]);
    item.textContent = s.name;
    legend.append(item);
  });
  if (series.length === 0) legend.textContent = 'No data';
  element.append(legend);
}
document.getElementById('heading').textContent = dashboard.title + ' (preview: last ' + minutes + ' min, to ' + new Date(end * 1000).toLocaleTimeString() + ')';
Promise.all(dashboard.panels.map(draw)).then(() => document.body.setAttribute('data-drawn', 'yes'));
</script>
`;

const minutes = Number(options.minutes);
const prometheus = new URL(options.prometheus);
const server = createServer(async (request, response) => {
  try {
    if (request.url?.startsWith('/api/v1/')) {
      // The page asks its own origin; Prometheus answers without CORS headers.
      const answer = await fetch(new URL(request.url, prometheus));
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(Buffer.from(await answer.arrayBuffer()));
      return;
    }
    const dashboard = await readFile(`${ROOT}${GRAFANA_DASHBOARD}`, 'utf8');
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    // Inside a <script>: no `</script>` can end it early.
    response.end(page(dashboard.replaceAll('<', '\\u003c'), minutes));
  } catch (error) {
    response.writeHead(502, { 'content-type': 'text/plain' });
    response.end(String(error));
  }
});
server.listen(Number(options.port), '127.0.0.1', () => {
  console.error(`dashboard preview: http://127.0.0.1:${options.port}/ (Prometheus ${prometheus.origin})`);
});
