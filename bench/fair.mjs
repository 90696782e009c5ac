// Issue 27: the fair comparison's rows, table and targets. One table: per CPU mode (pinned: the
// load client on its own CPU, each server on the rest; unpinned: everything on every core) and
// per C, certmint and step-ca side by side, with the server's CPU per issuance over all its
// threads and processes; then certmint with `server.workers: 1`, `2` and `auto` on the same
// unpinned load, and the start to serving of both on an existing data dir.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? +(a / b).toFixed(2) : null);
const per = (ms, r) => (typeof ms === 'number' && r?.ok > 0 ? +(ms / r.ok).toFixed(2) : null);
const show = (v) => (v === null || v === undefined ? '–' : v);

/** The config values the scaling rows run certmint with (YAML `server: { workers: … }`). */
export const SCALING_WORKERS = [1, 2, 'auto'];

/**
 * Whether this build's config knows `server.workers`. The schema rejects unknown keys
 * (additionalProperties: false), so a build without it would refuse to start, not ignore the key.
 */
export function workersSupported(repo) {
  try {
    return /\bworkers\b/.test(readFileSync(path.join(repo, 'dist', 'config', 'schema.js'), 'utf8'));
  } catch {
    return false;
  }
}

/** One mode and C: the two servers' loads (null when not run) and certmint ÷ step-ca. */
export function fairRow(mode, c, n, certmint, stepCa) {
  const cpu = (r) => per(r?.server_cpu_ms, r);
  return {
    mode,
    c,
    n,
    certmint: certmint ?? null,
    stepCa: stepCa ?? null,
    cpuMsPerIssuance: { certmint: cpu(certmint), stepCa: cpu(stepCa) },
    ratios: certmint && stepCa ? { perSec: ratio(certmint.per_sec, stepCa.per_sec), p50: ratio(certmint.p50_ms, stepCa.p50_ms), p99: ratio(certmint.p99_ms, stepCa.p99_ms), cpu: ratio(cpu(certmint), cpu(stepCa)) } : null,
  };
}

/** The scaling rows: per C, certmint's load with each SCALING_WORKERS value. */
export function scalingRows(loads, byWorkers) {
  return loads
    .map(({ c, n }) => ({ c, n, ...Object.fromEntries(SCALING_WORKERS.map((w) => [`w${w}`, byWorkers.get(w)?.get(c) ?? null])) }))
    .filter((row) => SCALING_WORKERS.some((w) => row[`w${w}`] !== null));
}

/** The fair table: per mode and C, certmint and step-ca side by side, then the ratios. */
export function fairTable(fair) {
  const rows = [['CPUs', 'C', 'N', 'certmint /s', 'step-ca /s', 'ratio', 'certmint p50', 'step-ca p50', 'ratio', 'certmint p99', 'step-ca p99', 'ratio', 'certmint CPU ms', 'step-ca CPU ms', 'ratio', 'errors']];
  for (const r of fair.rows) {
    const cm = r.certmint;
    const sc = r.stepCa;
    rows.push([r.mode, r.c, r.n, show(cm?.per_sec), show(sc?.per_sec), show(r.ratios?.perSec), show(cm?.p50_ms), show(sc?.p50_ms), show(r.ratios?.p50), show(cm?.p99_ms), show(sc?.p99_ms), show(r.ratios?.p99),
      show(r.cpuMsPerIssuance.certmint), show(r.cpuMsPerIssuance.stepCa), show(r.ratios?.cpu), `${show(cm?.errors)} / ${show(sc?.errors)}`]);
  }
  return rows;
}

/** Scaling: certmint workers 1, 2 and auto on the same unpinned load. */
export function scalingTable(fair) {
  const head = ['C', 'N', ...SCALING_WORKERS.flatMap((w) => [`workers ${w} /s`, `p50`, `CPU ms`])];
  const rows = [head];
  for (const r of fair.scaling?.rows ?? []) {
    rows.push([r.c, r.n, ...SCALING_WORKERS.flatMap((w) => {
      const l = r[`w${w}`];
      return [show(l?.per_sec), show(l?.p50_ms), show(per(l?.server_cpu_ms, l))];
    })]);
  }
  return rows;
}

/** Which CPUs each side had, as read back from /proc (Cpus_allowed_list). */
export function pinningLine(fair) {
  const p = fair.pinning;
  if (!p.split) return `Unpinned only${p.reason ? ` (${p.reason})` : ''}: client and servers on every core.`;
  const seen = Object.entries(p.verified ?? {}).map(([who, list]) => `${who} ${show(list)}`).join(', ');
  return `Pinned: load client on CPU ${p.split.client}, each server on CPU ${p.split.servers} (taskset; Cpus_allowed_list read back: ${seen || 'not run'}). Unpinned: all on every core. CPU ms: per issuance, every thread and process of the server (/proc, the process tree, reaped children included).`;
}

export function startupLine(fair) {
  const s = fair.startup;
  if (!s) return null;
  // The spread beside the median: a median of a few starts on a shared VM moves by as much.
  const spread = (xs) => `${Math.min(...xs)}-${Math.max(...xs)}`;
  const cpu = (x) => (x.cpuRunsMs ? `; its CPU ${x.cpuMedianMs} ms median, ${spread(x.cpuRunsMs)}` : '');
  const one = (name, x) => (x ? `${name} ${x.medianMs} ms median, ${spread(x.runsMs)} (${x.runsMs.join(', ')})${cpu(x)}` : `${name} not measured`);
  return `Start to serving on an existing data dir (${s.runs} start${s.runs === 1 ? '' : 's'}, ${s.mode}): ${one('certmint', s.certmint)} (spawn → "ACME directory at", after listen); ${one('step-ca', s.stepCa)} (spawn → directory answering, polled every 20 ms).`;
}

/**
 * The issue's targets from the fair run, added to report.mjs's list with its `add`. Pinned C=32:
 * certmint's CPU per issuance ≤ 0.5 × step-ca's; unpinned C=32 (workers auto when this build has
 * it) throughput ≥ 2×; C=1 p50 ≤ 0.5× (unpinned, and the pinned one for comparison); start ≤ 0.5 s.
 */
export function addFairTargets(fair, add) {
  if (!fair) return;
  const row = (mode, c) => fair.rows.find((r) => r.mode === mode && r.c === c);
  const pinned32 = row('pinned', 32);
  add('pinned C=32 server CPU ms per issuance, certmint ÷ step-ca', '≤ 0.5', pinned32?.ratios?.cpu, pinned32?.ratios?.cpu <= 0.5,
    pinned32 ? `${show(pinned32.cpuMsPerIssuance.certmint)} vs ${show(pinned32.cpuMsPerIssuance.stepCa)} ms` : undefined);
  const unpinned32 = row('unpinned', 32);
  const auto = fair.scaling?.rows?.find((r) => r.c === 32)?.wauto;
  const autoRatio = auto && unpinned32?.stepCa ? ratio(auto.per_sec, unpinned32.stepCa.per_sec) : null;
  const perSec = autoRatio ?? unpinned32?.ratios?.perSec;
  add(`unpinned C=32 issuances/s, certmint${autoRatio !== null ? ' (workers auto)' : ''} ÷ step-ca`, '≥ 2', perSec, perSec >= 2,
    autoRatio === null && unpinned32 ? `certmint with its default config${fair.scaling?.supported === false ? ': workers not supported by this build' : ''}` : undefined);
  add('pinned C=32 issuances/s, certmint ÷ step-ca', '≥ 2', pinned32?.ratios?.perSec, pinned32?.ratios?.perSec >= 2);
  for (const mode of ['unpinned', 'pinned']) {
    const r = row(mode, 1);
    add(`${mode} C=1 p50, certmint ÷ step-ca`, '≤ 0.5', r?.ratios?.p50, r?.ratios?.p50 <= 0.5);
  }
  const s = fair.startup;
  add('start to serving, existing data dir (ms, median)', '≤ 500', s?.certmint?.medianMs, s?.certmint?.medianMs <= 500, s?.stepCa ? `step-ca ${s.stepCa.medianMs} ms` : undefined);
}
