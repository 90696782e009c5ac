// The benchmark's result: targets checked against the measurements, and the table printed as
// plain text or Markdown (bench/run.mjs --markdown, for the README).

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? +(a / b).toFixed(2) : null);

/** certmint ÷ step-ca per C: throughput (higher is better for certmint), latencies (lower). */
export function issuanceRow(c, n, certmint, stepCa) {
  return {
    c,
    n,
    certmint,
    stepCa: stepCa ?? null,
    ratios: stepCa
      ? { perSec: ratio(certmint?.per_sec, stepCa.per_sec), p50: ratio(certmint?.p50_ms, stepCa.p50_ms), p99: ratio(certmint?.p99_ms, stepCa.p99_ms) }
      : null,
  };
}

/**
 * The issue's targets. `pass` is null when the run did not measure the thing (e.g. no step-ca,
 * or no C=32 load); a miss is reported, never an exit code: the benchmark is not a timed test.
 */
export function checkTargets(result) {
  const at = (c) => result.issuance.find((r) => r.c === c);
  const targets = [];
  const add = (name, target, value, pass, note) => targets.push({ name, target, value: value ?? null, pass: value === null || value === undefined ? null : pass, ...(note ? { note } : {}) });
  add('C=32 issuances/s, certmint ÷ step-ca', '≥ 2', at(32)?.ratios?.perSec, at(32)?.ratios?.perSec >= 2);
  add('C=1 p50, certmint ÷ step-ca', '≤ 0.5', at(1)?.ratios?.p50, at(1)?.ratios?.p50 <= 0.5);
  const rss = result.rss;
  const last = rss?.samples.at(-1);
  const { rssIssuances, certs, revoked } = result.settings;
  add(`RSS after ${last?.issued ?? rssIssuances} issuances (MB)`, '≤ 200', last?.rssMb, last?.rssMb <= 200);
  add('RSS growth, first batch → last (%)', '≤ 10, flat', rss?.growthPercent, rss?.growthPercent <= 10, rss ? `${rss.samples.map((s) => `${s.issued}: ${s.rssMb}`).join(', ')} MB` : undefined);
  const ledger = result.ledger;
  add(`CRL build + sign, ${ledger?.crl?.entries ?? revoked} entries (ms)`, '≤ 2000', ledger?.crl?.buildAndSignMs, ledger?.crl?.buildAndSignMs <= 2000);
  add(`certs list --expiring-within 7d query, ${ledger?.certificates ?? certs} certificates (ms)`, '≤ 100', ledger?.list?.['--expiring-within 7d']?.medianMs, ledger?.list?.['--expiring-within 7d']?.medianMs <= 100);
  add(`certmint serve start, ${ledger?.certificates ?? certs} certificates (ms, median)`, '≤ 2000', ledger?.serverStart?.medianMs, ledger?.serverStart?.medianMs <= 2000);
  return targets;
}

function textTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, j) => {
    const line = r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

function markdownTable(rows) {
  const esc = (v) => String(v).replaceAll('|', '\\|');
  const [head, ...body] = rows;
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const show = (v) => (v === null || v === undefined ? '–' : v);
const verdict = (pass) => (pass === null ? 'not measured' : pass ? 'pass' : 'MISS');

/** Where each run's CPU went, per issuance; empty (header only) for results from before it was measured. */
function cpuTable(result) {
  const rows = [['C', 'certmint ms (JS thread)', 'its client ms', 'ceiling /s', 'step-ca ms', 'its client ms', 'ceiling /s']];
  const per = (ms, r) => (typeof ms === 'number' && r?.ok > 0 ? +(ms / r.ok).toFixed(2) : null);
  const ceiling = (server, client) => (server !== null && client !== null ? Math.round((result.machine.cpuCount * 1000) / (server + client)) : null);
  for (const r of result.issuance) {
    const cm = r.certmint;
    const sc = r.stepCa;
    const cmServer = per(cm?.server_cpu_ms, cm);
    const cmClient = per(cm?.cpu_ms, cm);
    const scServer = per(sc?.server_cpu_ms, sc);
    const scClient = per(sc?.cpu_ms, sc);
    if (cmServer === null && scServer === null) continue;
    const cmMain = per(cm?.server_main_thread_cpu_ms, cm);
    rows.push([r.c, cmServer === null ? '–' : `${cmServer}${cmMain === null ? '' : ` (${cmMain})`}`, show(cmClient), show(ceiling(cmServer, cmClient)), show(scServer), show(scClient), show(ceiling(scServer, scClient))]);
  }
  return rows;
}

/** The whole result as text (default) or Markdown. */
export function formatResult(result, { markdown = false } = {}) {
  const table = markdown ? markdownTable : textTable;
  const m = result.machine;
  const out = [];
  out.push(`${markdown ? '' : 'certmint benchmark, '}${result.at}${result.quick ? ' (quick smoke run: tiny loads, not for comparison)' : ''}`);
  out.push(`${m.cpuCount} × ${m.cpuModel}, ${m.totalMemoryGb} GB, Debian ${m.debian}, Node ${m.node}, commit ${m.gitCommit}${m.gitDirty ? ' (+ uncommitted changes)' : ''}`);
  out.push('');
  const issuance = [['C', 'N', 'certmint /s', 'step-ca /s', 'ratio', 'certmint p50 ms', 'step-ca p50 ms', 'ratio', 'certmint p99 ms', 'step-ca p99 ms', 'ratio', 'errors cm / step']];
  for (const r of result.issuance) {
    const cm = r.certmint ?? {};
    const sc = r.stepCa ?? {};
    issuance.push([r.c, r.n, show(cm.per_sec), show(sc.per_sec), show(r.ratios?.perSec), show(cm.p50_ms), show(sc.p50_ms), show(r.ratios?.p50), show(cm.p99_ms), show(sc.p99_ms), show(r.ratios?.p99), `${show(cm.errors)} / ${show(sc.errors)}`]);
  }
  if (issuance.length > 1) {
    out.push(table(issuance));
    out.push('');
    out.push(markdown ? 'Ratios are certmint ÷ step-ca from the same run (throughput: higher is better; latency: lower is better).' : 'ratios: certmint ÷ step-ca, same run, same machine');
    out.push('');
  }
  const cpu = cpuTable(result);
  if (cpu.length > 1) {
    out.push(table(cpu));
    out.push('');
    out.push(
      `CPU ms per issuance: the server's (certmint's JavaScript thread in brackets) and the load client's, from /proc and getrusage. ` +
        `Ceiling: ${result.machine.cpuCount} cores × 1000 ÷ (server + client), the rate at which server and client together would fill the machine.`,
    );
    out.push('');
  }
  const targets = [['measurement', 'value', 'target', 'result']];
  for (const t of result.targets) targets.push([t.name, show(t.value), t.target, verdict(t.pass)]);
  out.push(table(targets));
  const rss = result.rss;
  if (rss) {
    out.push('');
    out.push(`RSS of certmint (MB) by issued count, C=${rss.concurrency}: ${rss.samples.map((s) => `${s.issued} → ${s.rssMb}`).join(', ')} (peak ${rss.samples.at(-1).peakRssMb})`);
  }
  if (result.ledger?.listCommand) out.push(`\`certmint certs list --expiring-within 7d\` as a command (node start included): ${result.ledger.listCommand.medianMs} ms median`);
  if (result.failures.length > 0) {
    out.push('');
    out.push('Failures:');
    for (const f of result.failures) out.push(`- ${f}`);
  }
  return out.join('\n');
}
