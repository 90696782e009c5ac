// Renewal-overdue queries (issue 22) on a ledger of CERTS certificates, on SQLite and PostgreSQL:
// `certs list --overdue`, `--unrenewed-expiring-within 3d` (first page and count, as the CLI reads
// them, with and without an identifier filter), the /metrics counts and the steady renewal-risk check. The ledger is generated
// through SQL with the columns issuance records (lineage, renewal-due time, identifier set), as a
// fleet looks after months of 6-day certificates renewed every 4 days: every host's chain of
// certificates, each superseded by the next; 2% of the hosts stuck (their last certificate past
// its window, some already expired) and 5% retired long ago (their last certificate expired,
// never superseded). bench/run.mjs imports measureOverdueQueries; it also runs on its own:
// Usage: node bench/ledger-overdue.mjs [--certs 1000000] [--backend sqlite|postgres|both] [--json FILE]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { defaultRenewalDueAt } from '../dist/ledger/lineage.js';
import { reverseLabels } from '../dist/ledger/names.js';
import { createPostgresPool } from '../dist/ledger/postgres/connect.js';
import { PostgresLedger } from '../dist/ledger/postgres/ledger.js';
import { SqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { postgresUnavailable, startPostgres } from './postgres.mjs';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CHAIN = 10; // certificates per host
const LIFETIME = 6 * DAY;
const RENEW_EVERY = 4 * DAY;
/** The bound issue 22 sets for each of these queries on 1,000,000 certificates. */
export const OVERDUE_QUERY_TARGET_MS = 100;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The fleet's certificates, in issuance order per host, `batch` rows at a time. */
export function* fleet(certs, now, batch = 10_000) {
  const hosts = Math.ceil(certs / CHAIN);
  let rows = [];
  for (let h = 0; h < hosts; h++) {
    const name = `svc${h}.ns${h % 1000}.svc.cluster.local`;
    // The newest certificate is 0–4 days old; stuck hosts stopped 1.5 days late (overdue, some
    // expired), retired hosts 30 days ago.
    const shift = h % 50 === 0 ? 1.5 * DAY + (h % 97) * HOUR / 2 : h % 20 === 1 ? 30 * DAY : 0;
    const newest = now - (h % 96) * HOUR - shift;
    const profile = h % 3 === 0 ? 'short' : null;
    for (let k = 0; k < CHAIN && h * CHAIN + k < certs; k++) {
      const issued = newest - (CHAIN - 1 - k) * RENEW_EVERY;
      const serial = `01${(h * CHAIN + k).toString(16).padStart(32, '0')}`;
      const last = k === CHAIN - 1 || h * CHAIN + k === certs - 1;
      rows.push({
        serial, name, issued, notAfter: issued + LIFETIME, profile,
        replaces: k > 0 ? `01${(h * CHAIN + k - 1).toString(16).padStart(32, '0')}` : null,
        replacedBy: last ? null : `01${(h * CHAIN + k + 1).toString(16).padStart(32, '0')}`,
        dueAt: defaultRenewalDueAt(new Date(issued), new Date(issued + LIFETIME)).getTime(),
      });
      if (rows.length === batch) {
        yield rows;
        rows = [];
      }
    }
  }
  if (rows.length > 0) yield rows;
}

/** The queries, each timed 7 times after a warm-up; the median and the rows it answered. */
async function timeQueries(ledger, now) {
  const filters = {
    'overdue (first 1000)': { overdue: true },
    'overdue --identifier *.ns50.svc.cluster.local': { overdue: true, identifier: '*.ns50.svc.cluster.local' },
    'unrenewed-expiring-within 3d (first 1000)': { unrenewedExpiringWithinMs: 3 * DAY },
  };
  const out = {};
  const time = async (label, fn) => {
    await fn();
    const runs = [];
    let answer;
    for (let i = 0; i < 7; i++) {
      const s = performance.now();
      answer = await fn();
      runs.push(performance.now() - s);
    }
    out[label] = { medianMs: +median(runs).toFixed(1), maxMs: +Math.max(...runs).toFixed(1), answer };
  };
  for (const [label, f] of Object.entries(filters)) {
    await time(`list ${label}`, async () => (await ledger.listCertificates({ now, limit: 1000, ...f })).length);
    await time(`count ${label.replace(/ \(first 1000\)/, '')}`, () => ledger.countCertificates({ now, limit: 1, ...f }));
  }
  await time('metrics counts (1d, 7d, 30d)', async () => {
    const c = await ledger.certificateCounts(now, [DAY, 7 * DAY, 30 * DAY]);
    return { overdue: c.renewalOverdue, expiringUnrenewed: c.expiringUnrenewedWithin };
  });
  // The renewal-risk check serve runs every minute: the first reports every stuck certificate in
  // batches of 500 (and marks the retired hosts' expired ones); after that a check reads only what
  // is new, however many certificates were told of before.
  const s = performance.now();
  let raised = 0;
  for (;;) {
    const r = await ledger.outbox.raiseRenewalRiskEvents(now, 3 * DAY, 500);
    raised += r.raised;
    if (r.handled === 0) break;
  }
  const backlog = { events: raised, ms: Math.round(performance.now() - s) };
  await time('renewal-risk check, steady', async () => ({ ...(await ledger.outbox.raiseRenewalRiskEvents(now, 3 * DAY, 500)), firstChecks: backlog }));
  return out;
}

async function sqlite(dir, certs, now, log) {
  const file = path.join(dir, 'ledger.sqlite3');
  new SqliteLedger({ file }).close(); // migrations
  let t = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', 1, 0)`).run();
  // One chain for every certificate, as one intermediate generation (migrations/0028_certificate_chains.sql).
  db.prepare(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`).run();
  const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status,
      created_at, profile, identifier_set, replaces, replaced_by, renewal_due_at)
    VALUES (?, 'bench', x'00', 1, ?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?, ?)`);
  const ident = db.prepare(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value) VALUES ('dns', ?, ?, ?)`);
  db.transaction(() => {
    for (const rows of fleet(certs, now)) {
      for (const r of rows) {
        cert.run(r.serial, JSON.stringify([{ type: 'dns', value: r.name }]), r.serial, r.issued, r.notAfter, r.issued, r.profile, `dns:${r.name}`,
          r.replaces, r.replacedBy, r.dueAt);
        ident.run(r.name, r.serial, reverseLabels(r.name));
      }
    }
  })();
  db.exec('ANALYZE');
  db.close();
  log(`overdue/sqlite: generated ${certs} certificates in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const ledger = new SqliteLedger({ file, mustExist: true });
  try {
    t = performance.now();
    return await timeQueries(ledger, new Date(now));
  } finally {
    await ledger.close();
  }
}

async function postgres(certs, now, log) {
  const cluster = await startPostgres();
  try {
    const url = await cluster.createDatabase('overdue');
    const ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 4 }) });
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const t = performance.now();
      try {
        await client.query(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', true, 0)`);
        await client.query(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`);
        for (const rows of fleet(certs, now)) {
          const col = (f) => rows.map(f);
          await client.query(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status,
              created_at, profile, identifier_set, replaces, replaced_by, renewal_due_at)
            SELECT s, 'bench', '\\x00', 1, i, s, nb, na, 'valid', nb, p, k, r, b, d
              FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
                AS u(s, i, nb, na, p, k, r, b, d)`, [
            col((r) => r.serial), col((r) => JSON.stringify([{ type: 'dns', value: r.name }])), col((r) => r.issued), col((r) => r.notAfter),
            col((r) => r.profile), col((r) => `dns:${r.name}`), col((r) => r.replaces), col((r) => r.replacedBy), col((r) => r.dueAt),
          ]);
          await client.query(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value)
            SELECT 'dns', v, s, r FROM unnest($1::text[], $2::text[], $3::text[]) AS u(v, s, r)`, [
            col((r) => r.name), col((r) => r.serial), col((r) => reverseLabels(r.name)),
          ]);
        }
        await client.query('VACUUM ANALYZE certificates');
        await client.query('VACUUM ANALYZE certificate_identifiers');
      } finally {
        await client.end();
      }
      log(`overdue/postgres: generated ${certs} certificates in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return { version: cluster.version, queries: await timeQueries(ledger, new Date(now)) };
    } finally {
      await ledger.close();
    }
  } finally {
    await cluster.stop();
  }
}

/** Both backends (PostgreSQL when installed); each query's median against OVERDUE_QUERY_TARGET_MS. */
export async function measureOverdueQueries({ certs = 1_000_000, backends = ['sqlite', 'postgres'], log = () => {} } = {}) {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-bench-overdue-'));
  const results = { certs, targetMs: OVERDUE_QUERY_TARGET_MS };
  try {
    if (backends.includes('sqlite')) results.sqlite = await sqlite(dir, certs, now, log);
    if (backends.includes('postgres')) {
      const missing = postgresUnavailable();
      results.postgres = missing ? { skipped: missing } : await postgres(certs, now, log);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { certs: { type: 'string', default: '1000000' }, backend: { type: 'string', default: 'both' }, json: { type: 'string' } } });
  const backends = values.backend === 'both' ? ['sqlite', 'postgres'] : [values.backend];
  const results = await measureOverdueQueries({ certs: Number(values.certs), backends, log: (m) => console.error(m) });
  const text = JSON.stringify(results, null, 2);
  if (values.json) writeFileSync(values.json, `${text}\n`);
  console.log(text);
}
