// The benchmark's result: targets checked against the measurements, and the table printed as
// plain text or Markdown (bench/run.mjs --markdown, for docs/benchmarks.md).
import { addFairTargets, fairTable, pinningLine, scalingTable, startupLine } from './fair.mjs';
import { addAlternatingTargets, alternatingTable } from './alternating.mjs';
import { profileNote, profileTable } from './profile-report.mjs';

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? +(a / b).toFixed(2) : null);

/**
 * The servers a load runs against: `name` as run.mjs and its log call them, `key` the field of an
 * issuance row, `label` the table's column. SQLite-1 is the `certmint` the targets compare.
 */
export const SETUPS = [
  { name: 'certmint', key: 'certmint', label: 'SQLite-1' },
  { name: 'certmint-pg', key: 'certmintPg', label: 'PG-1' },
  { name: 'certmint-pg-2', key: 'certmintPg2', label: 'PG-2' },
  { name: 'step-ca', key: 'stepCa', label: 'step-ca' },
  // Issue 23: SQLite, the intermediate key on a SoftHSM token (ca.keyProvider pkcs11).
  { name: 'certmint-hsm', key: 'certmintHsm', label: 'HSM' },
];

/**
 * One C: each setup's load result (null when it did not run), and certmint (SQLite) ÷ step-ca:
 * throughput (higher is better for certmint), latencies (lower).
 */
export function issuanceRow(c, n, bySetup) {
  const certmint = bySetup.certmint ?? null;
  const stepCa = bySetup['step-ca'] ?? null;
  return {
    c,
    n,
    certmint,
    certmintPg: bySetup['certmint-pg'] ?? null,
    certmintPg2: bySetup['certmint-pg-2'] ?? null,
    certmintHsm: bySetup['certmint-hsm'] ?? null,
    stepCa,
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
  if (result.fair) {
    addFairTargets(result.fair, add);
    addAlternatingTargets(result.fair.alternating, add);
  } else {
    add('C=32 issuances/s, certmint ÷ step-ca', '≥ 2', at(32)?.ratios?.perSec, at(32)?.ratios?.perSec >= 2);
    add('C=1 p50, certmint ÷ step-ca', '≤ 0.5', at(1)?.ratios?.p50, at(1)?.ratios?.p50 <= 0.5);
  }
  const hsmShare = at(32)?.certmintHsm && at(32)?.certmint ? ratio(at(32).certmintHsm.per_sec, at(32).certmint.per_sec) : undefined;
  add('C=32 issuances/s, intermediate on SoftHSM ÷ file key', '≥ 0.8', hsmShare, hsmShare >= 0.8, result.hsm?.skipped ?? undefined);
  const rss = result.rss;
  const last = rss?.samples.at(-1);
  const { rssIssuances, certs, revoked } = result.settings;
  add(`RSS after ${last?.issued ?? rssIssuances} issuances (MB)`, '≤ 200', last?.rssMb, last?.rssMb <= 200);
  add('RSS growth, first batch → last (%)', '≤ 10, flat', rss?.growthPercent, rss?.growthPercent <= 10, rss ? `${rss.samples.map((s) => `${s.issued}: ${s.rssMb}`).join(', ')} MB` : undefined);
  const ledger = result.ledger;
  add(`CRL build + sign, ${ledger?.crl?.entries ?? revoked} entries (ms)`, '≤ 2000', ledger?.crl?.buildAndSignMs, ledger?.crl?.buildAndSignMs <= 2000);
  // Issue 27: what one revocation rebuilds, crl.partitions 1 (the whole CRL) against 16 (one partition).
  const [wholeCrl, partitionCrl] = ledger?.crlPartitions ?? [];
  add(`CRL rebuilt by a revocation, crl.partitions 1: ${wholeCrl?.entries ?? revoked} entries (ms)`, '≤ 2000', wholeCrl?.buildAndSignMs, wholeCrl?.buildAndSignMs <= 2000);
  add(`CRL rebuilt by a revocation, crl.partitions ${partitionCrl?.partitions ?? 16}: one partition, ${partitionCrl?.entries ?? '~1/16 of the'} entries (ms)`, '< partitions 1', partitionCrl?.buildAndSignMs, partitionCrl?.buildAndSignMs < wholeCrl?.buildAndSignMs);
  add(`certs list --expiring-within 7d query, ${ledger?.certificates ?? certs} certificates (ms)`, '≤ 100', ledger?.list?.['--expiring-within 7d']?.medianMs, ledger?.list?.['--expiring-within 7d']?.medianMs <= 100);
  add(`certmint serve start, ${ledger?.certificates ?? certs} certificates (ms, median)`, '≤ 2000', ledger?.serverStart?.medianMs, ledger?.serverStart?.medianMs <= 2000);
  // Issue 22: every renewal-overdue list, count and the metrics' read, per backend: the slowest median.
  for (const backend of ['sqlite', 'postgres']) {
    const queries = backend === 'sqlite' ? result.overdue?.sqlite : result.overdue?.postgres?.queries;
    const slowest = queries ? Object.entries(queries).reduce((a, b) => (b[1].medianMs > a[1].medianMs ? b : a)) : undefined;
    add(`renewal-overdue queries on ${backend}, ${result.overdue?.certs ?? certs} certificates (ms, slowest median)`, '≤ 100', slowest?.[1].medianMs,
      slowest?.[1].medianMs <= 100, result.overdue?.postgres?.skipped && backend === 'postgres' ? result.overdue.postgres.skipped : slowest?.[0]);
  }
  // Issue 25: the certificate list (API and console page), first and deep page, the overview figures (per backend) and the console assets.
  for (const con of [result.console, result.consolePostgres]) {
    if (!con) continue;
    const on = `${con.certs} certificates on ${con.backend}`;
    for (const [label, part] of [['GET /api/v1/certificates?limit=50', con.api], ['GET /console/certificates', con.console]]) {
      for (const [which, page] of [['first page', part?.firstPage], [`deep page${part?.deepPage ? ` (${part.deepPage.rowsIn} rows in)` : ''}`, part?.deepPage]]) {
        add(`${label}, ${which}, ${on} (ms, median)`, '≤ 100', page?.medianMs, page?.medianMs <= 100, con.skipped ?? part?.skipped ?? (page ? `max ${page.maxMs} ms` : undefined));
      }
    }
    const sum = con.summary;
    add(`GET /api/v1/summary, first computation (at start-up, in the background), ${on} (ms)`, '≤ 200', sum?.coldMs, sum?.coldMs <= 200,
      con.skipped ?? (sum?.readsMs ? `reads: ${Object.entries(sum.readsMs).map(([k, v]) => `${k} ${v} ms`).join(', ')}` : undefined));
    const later = sum ? Math.max(sum.cachedMedianMs, sum.refreshAheadMs) : undefined;
    add(`GET /api/v1/summary, every later request, ${con.backend} (ms; cached, or past half its life while the next is computed)`, '≤ 200', later, later <= 200,
      sum ? `cached median ${sum.cachedMedianMs} ms, past half its life ${sum.refreshAheadMs} ms` : undefined);
  }
  const assets = result.console?.assets;
  add('console assets, gzipped (kB)', '≤ 150', assets?.totalKb, assets?.totalKb <= 150, assets ? assets.files.map((f) => `${f.name} ${f.gzipBytes} B`).join(', ') : undefined);
  // Once limits inside test/crash/kill9.test.ts (2 s) and src/cli/ledger-copy.test.ts (30 s for 20,000).
  const restarts = result.restarts;
  add(`restart after kill -9 under load (ms, slowest of ${restarts?.kills ?? result.settings.restartKills})`, '≤ 2000', restarts?.maxMs, restarts?.maxMs <= 2000, restarts?.restartsMs ? `${restarts.restartsMs.join(', ')} ms` : undefined);
  const copy = result.ledgerCopy;
  add(`ledger copy to PostgreSQL, ${copy?.certificates ?? result.settings.copyCerts} certificates (ms per 1,000)`, '≤ 1500', copy?.msPer1000, copy?.msPer1000 <= 1500, copy?.skipped ?? (copy?.commandMs !== undefined ? `${copy.commandMs} ms in the command, ${copy.wallMs} ms with node start-up` : undefined));
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

const per = (ms, r) => (typeof ms === 'number' && r?.ok > 0 ? +(ms / r.ok).toFixed(2) : null);
/** CPU ms per issuance of everything but the load client: certmint or step-ca, PostgreSQL, haproxy. */
const serverSide = (r) => per(r?.server_cpu_ms === undefined ? undefined : r.server_cpu_ms + (r.postgres_cpu_ms ?? 0) + (r.haproxy_cpu_ms ?? 0), r);

/** The setups that ran in this result (old results: certmint and step-ca only). */
const setupsOf = (result) => SETUPS.filter((s) => result.issuance.some((r) => r[s.key]));

/** Rows per C, per measurement a column for each setup: issuances/s, p50, p99, server-side CPU ms per issuance. */
function issuanceTable(result) {
  const setups = setupsOf(result);
  const columns = [
    ['/s', (r) => r.per_sec],
    ['p50 ms', (r) => r.p50_ms],
    ['p99 ms', (r) => r.p99_ms],
    ['CPU ms', serverSide],
  ];
  const rows = [['C', 'N', ...columns.flatMap(([name]) => setups.map((s) => `${s.label} ${name}`)), `errors ${setups.map((s) => s.label).join(' / ')}`]];
  for (const row of result.issuance) {
    const cells = columns.flatMap(([, value]) => setups.map((s) => (row[s.key] ? show(value(row[s.key])) : '–')));
    rows.push([row.c, row.n, ...cells, setups.map((s) => show(row[s.key]?.errors)).join(' / ')]);
  }
  return rows;
}

function ratioTable(result) {
  const rows = [['C', '/s SQLite-1 ÷ step-ca', 'p50 ratio', 'p99 ratio']];
  for (const r of result.issuance) if (r.ratios) rows.push([r.c, show(r.ratios.perSec), show(r.ratios.p50), show(r.ratios.p99)]);
  return rows;
}

/** Where each run's CPU went, per issuance and setup; empty (header only) for results from before it was measured. */
function cpuTable(result) {
  const rows = [['C', 'setup', 'server ms (JS thread)', 'PostgreSQL ms', 'haproxy ms', 'all but client ms', 'client ms', 'ceiling /s']];
  const ceiling = (server, client) => (server !== null && client !== null ? Math.round((result.machine.cpuCount * 1000) / (server + client)) : null);
  for (const row of result.issuance) {
    for (const s of setupsOf(result)) {
      const r = row[s.key];
      const server = per(r?.server_cpu_ms, r);
      if (server === null) continue;
      const main = per(r.server_main_thread_cpu_ms, r);
      const all = serverSide(r);
      const client = per(r.cpu_ms, r);
      rows.push([row.c, s.label, `${server}${main === null ? '' : ` (${main})`}`, show(per(r.postgres_cpu_ms, r)), show(per(r.haproxy_cpu_ms, r)), show(all), show(client), show(ceiling(all, client))]);
    }
  }
  return rows;
}

/** How haproxy spread PG-2's requests, and its two instances' CPU. */
function balanceLine(result) {
  const parts = result.issuance
    .filter((row) => row.certmintPg2?.responses_certmint_1 !== undefined)
    .map((row) => {
      const r = row.certmintPg2;
      return `C=${row.c}: ${r.responses_certmint_1} / ${r.responses_certmint_2} requests, ${per(r.certmint_1_cpu_ms, r)} / ${per(r.certmint_2_cpu_ms, r)} CPU ms per issuance`;
    });
  return parts.length > 0 ? `PG-2, instance 1 / instance 2: ${parts.join('; ')}` : null;
}

/** The whole result as text (default) or Markdown. */
export function formatResult(result, { markdown = false } = {}) {
  const table = markdown ? markdownTable : textTable;
  const m = result.machine;
  const out = [];
  out.push(`${markdown ? '' : 'certmint benchmark, '}${result.at}${result.quick ? ' (quick smoke run: tiny loads, not for comparison)' : ''}`);
  out.push(`${m.cpuCount} × ${m.cpuModel}, ${m.totalMemoryGb} GB, Debian ${m.debian}, Node ${m.node}, commit ${m.gitCommit}${m.gitDirty ? ' (+ uncommitted changes)' : ''}`);
  out.push('');
  const fair = result.fair;
  if (fair?.rows.length > 0) {
    out.push(table(fairTable(fair)));
    out.push('');
    out.push(pinningLine(fair));
    out.push('');
  }
  if (fair?.scaling) {
    if (fair.scaling.rows.length > 0) {
      out.push(table(scalingTable(fair)));
      out.push('');
      out.push('Scaling: certmint on the same unpinned loads with server.workers 1, 2 and auto (fresh data dir each); CPU ms of all its processes.');
    } else out.push(`Scaling: ${fair.scaling.note}`);
    out.push('');
  }
  if (fair?.alternating?.length > 0) {
    out.push(table(alternatingTable(fair.alternating)));
    out.push('');
    out.push(`C=1 in alternating rounds: a fresh certmint and a fresh step-ca up side by side, ${fair.alternating[0].n} issuances per server per round, the order swapped each round; the ratio is certmint's p50 ÷ step-ca's in the same round.`);
    out.push('');
  }
  const startup = fair ? startupLine(fair) : null;
  if (startup) {
    out.push(startup);
    out.push('');
  }
  if (result.profile) {
    out.push(table(profileTable(result.profile)));
    out.push('');
    out.push(profileNote(result.profile));
    out.push('');
  }
  if (result.issuance.length > 0) {
    out.push(table(issuanceTable(result)));
    out.push('');
    const pg = result.postgres;
    const on = (key) => setupsOf(result).some((s) => s.key === key);
    const postgres = `PostgreSQL ${/PostgreSQL\) (\S+)/.exec(pg?.version ?? '')?.[1] ?? ''} on the same machine (fsync and synchronous_commit on, a pool of ${pg?.poolSize} connections per instance)`;
    out.push(
      [
        on('certmint') && 'SQLite-1: one certmint on its SQLite ledger.',
        on('certmintPg') && `PG-1: one certmint on ${postgres}.`,
        on('certmintPg2') && `PG-2: two certmint instances on one database of ${on('certmintPg') ? 'that PostgreSQL' : postgres}, behind haproxy ${result.machine.haproxy ?? ''} (TLS terminated and re-encrypted, round robin per request).`,
        on('certmintHsm') && 'HSM: SQLite-1 with its intermediate key on a SoftHSM2 token (ca.keyProvider pkcs11; every leaf signed through PKCS#11).',
        'CPU ms: per issuance, of everything but the load client (certmint or step-ca, and PostgreSQL and haproxy where they run).',
      ]
        .filter(Boolean)
        .join(' '),
    );
    if (pg?.skipped) out.push(`Skipped: ${pg.skipped}.`);
    out.push('');
  }
  const ratios = ratioTable(result);
  if (ratios.length > 1) {
    out.push(table(ratios));
    out.push('');
    out.push(markdown ? 'Ratios are certmint (SQLite) ÷ step-ca from the same run (throughput: higher is better; latency: lower is better).' : 'ratios: certmint (SQLite) ÷ step-ca, same run, same machine');
    out.push('');
  }
  const cpu = cpuTable(result);
  if (cpu.length > 1) {
    out.push(table(cpu));
    out.push('');
    out.push(
      `CPU ms per issuance, from /proc and getrusage: the server's (certmint's JavaScript threads in brackets; for PG-2 both instances), ` +
        `the PostgreSQL cluster's (all its processes), haproxy's, their sum, and the load client's. ` +
        `Ceiling: ${result.machine.cpuCount} cores × 1000 ÷ (all + client), the rate at which servers and client together would fill the machine.`,
    );
    const balance = balanceLine(result);
    if (balance) out.push(balance);
    out.push('');
  }
  const targets = [['measurement', 'value', 'target', 'result']];
  for (const t of result.targets) targets.push([t.name, show(t.value), t.target, verdict(t.pass)]);
  out.push(table(targets));
  const rss = result.rss;
  if (rss) {
    out.push('');
    out.push(`RSS of certmint (MB) by issued count, C=${rss.concurrency}: ${rss.samples.map((s) => `${s.issued} → ${s.rssMb}`).join(', ')} (peak ${rss.samples.at(-1).peakRssMb})`);
    // server.workers > 1 (--rss-workers): every process of each sample, primary first.
    if (rss.workers > 1) out.push(`  per process (primary / workers), server.workers ${rss.workers}: ${rss.samples.map((s) => `${s.issued} → ${s.processes.map((p) => p.rssMb).join(' / ')}`).join(', ')}`);
  }
  if (result.restarts) out.push(`certmint serve ready again after kill -9 under a C=${result.restarts.workers} load: ${result.restarts.restartsMs.join(', ')} ms (spawn → "ACME directory at"; ${result.restarts.certificates} certificates issued across the kills)`);
  if (result.ledgerCopy?.commandMs !== undefined) out.push(`certmint ledger copy of ${result.ledgerCopy.certificates} certificates (${result.ledgerCopy.names} names) to PostgreSQL: ${result.ledgerCopy.commandMs} ms in the command, ${result.ledgerCopy.wallMs} ms with node start-up`);
  if (result.ledgerCopy?.skipped) out.push(`ledger copy not measured: ${result.ledgerCopy.skipped}`);
  if (result.ledger?.listCommand) out.push(`\`certmint certs list --expiring-within 7d\` as a command (node start included): ${result.ledger.listCommand.medianMs} ms median`);
  if (result.failures.length > 0) {
    out.push('');
    out.push('Failures:');
    for (const f of result.failures) out.push(`- ${f}`);
  }
  return out.join('\n');
}

/** One table as plain text (default) or Markdown, for the scripts that print a table of their own. */
export function formatTable(rows, { markdown = false } = {}) {
  return markdown ? markdownTable(rows) : textTable(rows);
}
