// The console's only script (bundled by scripts/build-console.mjs, served from 'self'): htmx for
// partial page updates and uPlot for the overview's charts. Nothing here uses eval, inline
// styles in markup or inline scripts, so the console runs under script-src 'self' / style-src 'self'.
import htmx from 'htmx.org';
import uPlot from 'uplot';

// Before htmx initialises (this script is deferred; htmx waits for DOMContentLoaded): no <style>
// element for its indicators (app.css has them) and no eval (hx-on, js: filters).
htmx.config.includeIndicatorStyles = false;
htmx.config.allowEval = false;
htmx.config.allowScriptTags = false;
htmx.config.selfRequestsOnly = true;
// A 400 page is an answer to show (the certificate search's notice for a bad filter), as it is
// without script; other errors keep htmx's default of not swapping.
htmx.config.responseHandling = [
  { code: '204', swap: false },
  { code: '[23]..', swap: true },
  { code: '400', swap: true, error: false },
  { code: '[45]..', swap: false, error: true },
];

/** The session's CSRF token (a meta tag the server writes), sent with every htmx request that changes something. */
document.body.addEventListener('htmx:configRequest', (event) => {
  const detail = (event as CustomEvent<{ verb: string; headers: Record<string, string> }>).detail;
  const token = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content;
  if (token && detail.verb !== 'get') detail.headers['X-CSRF-Token'] = token;
});

interface ChartData {
  readonly title: string;
  /** Days, as Unix seconds (UTC midnight). */
  readonly days: number[];
  readonly series: { readonly label: string; readonly values: number[] }[];
}

const PALETTE = ['#2563eb', '#d97706', '#dc2626', '#059669'];

function drawChart(host: HTMLElement): void {
  const source = document.getElementById(host.dataset.chart ?? '');
  if (!source || host.dataset.drawn) return;
  const data = JSON.parse(source.textContent ?? '{}') as ChartData;
  host.dataset.drawn = '1';
  const width = () => Math.max(240, host.clientWidth);
  const bars = uPlot.paths.bars!({ size: [0.7, 24] });
  const plot = new uPlot(
    {
      width: width(),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: 'currentColor', grid: { show: false } }, { stroke: 'currentColor', size: 40 }],
      series: [{}, ...data.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], fill: PALETTE[i % PALETTE.length] + '99', paths: bars, points: { show: false } }))],
    },
    [data.days, ...data.series.map((s) => s.values)],
    host,
  );
  new ResizeObserver(() => plot.setSize({ width: width(), height: 180 })).observe(host);
}

function init(root: Element | Document): void {
  root.querySelectorAll<HTMLElement>('[data-chart]').forEach(drawChart);
}

htmx.onLoad((element) => {
  if (element instanceof Element) init(element);
});
init(document);
