// The console and its admin API on a ledger of CERTS certificates (issue 25), on SQLite: the
// certificate list (GET /api/v1/certificates?limit=50 and the console's /console/certificates),
// its first page and a deep page (the keyset cursor of the row about 90% in), the overview figures
// (GET /api/v1/summary) cold and cached, and the console assets' gzipped size. Each request goes
// through fastify's inject on the real admin server (createAdminServer: authentication, routing,
// the ledger read, serialization), so the time is the server's alone: no socket, no client.
// The ledger is generated through SQL: certificates issued over the last 90 days, each valid for
// 90 days (so the expiries and issuances charts each read most of the ledger, their worst case),
// 5% revoked, with the audit entry of each issuance. bench/run.mjs imports measureConsole; it also
// runs on its own:
// Usage: node bench/ledger-console.mjs [--certs 1000000] [--backend sqlite|postgres] [--json FILE] [--keep DIR (the ledger is kept there, and reused when there; PostgreSQL's cluster in DIR/pg)]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setInterval, clearInterval } from 'node:timers';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { problemErrorHandler, sendProblem } from '../dist/acme/problem-handler.js';
import { createAdminServer } from '../dist/admin/admin-server.js';
import { encodeCursor } from '../dist/admin/certificate-views.js';
import { reverseLabels } from '../dist/ledger/names.js';
import { createPostgresPool } from '../dist/ledger/postgres/connect.js';
import { PostgresLedger } from '../dist/ledger/postgres/ledger.js';
import { SqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { endConsoleSession, resumeConsoleSession, startConsoleSession } from '../dist/ra/admin-sessions.js';
import { authenticateAdmin, createAdminToken, noteAdminTokenUse } from '../dist/ra/admin-tokens.js';
import { postgresUnavailable, startPostgres } from './postgres.mjs';
import { REPO } from './processes.mjs';

const DAY = 86_400_000;
/** Issue 25's bounds: a list page (first or deep) and the overview figures, server time; the assets, gzipped. */
export const CONSOLE_TARGETS = { pageMs: 100, summaryMs: 200, assetsKb: 150 };
const PAGE = 50;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => +x.toFixed(1);

/** The gzipped size of what the console serves (npm run build's dist/console/assets, per its manifest). */
export function consoleAssetsGzipped(dir = path.join(REPO, 'dist', 'console', 'assets')) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const files = Object.keys(manifest.files).map((name) => ({ name, gzipBytes: statSync(path.join(dir, `${name}.gz`)).size }));
  const stale = readdirSync(dir).filter((f) => f.endsWith('.gz') && !(f.slice(0, -3) in manifest.files));
  return { files, totalKb: ms(files.reduce((sum, f) => sum + f.gzipBytes, 0) / 1024), ...(stale.length ? { notServed: stale } : {}) };
}

/** Certificates `from` to `to` of `certs`: in issuance order, as a ledger is written, evenly over 90 days (to the minute, so equal expiries are rare but not absent); 5% revoked. */
function fleetRows(from, to, certs, now) {
  const rows = [];
  for (let i = from; i < to; i++) {
    rows.push({
      serial: `02${i.toString(16).padStart(32, '0')}`,
      name: `host${i}.ns${i % 1000}.example.internal`,
      issued: now - 90 * DAY + Math.floor((i / certs) * 90 * DAY / 60_000) * 60_000,
      revoked: i % 20 === 7,
    });
  }
  return rows;
}

function generate(file, certs, now) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('cache_size = -400000'); // the indexes stay in memory while they are written
  db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', 1, 0)`).run();
  // One chain for every certificate, as one intermediate generation (migrations/0028_certificate_chains.sql).
  db.prepare(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`).run();
  const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status,
      revoked_at, revocation_reason, created_at, identifier_set, renewal_due_at)
    VALUES (?, 'bench', x'00', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const ident = db.prepare(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value) VALUES ('dns', ?, ?, ?)`);
  const audit = db.prepare(`INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, 'account:bench', 'issue', ?, '{}')`);
  db.transaction(() => {
    for (let from = 0; from < certs; from += 10_000) {
      for (const { serial, name, issued, revoked } of fleetRows(from, Math.min(certs, from + 10_000), certs, now)) {
        cert.run(serial, JSON.stringify([{ type: 'dns', value: name }]), serial, issued, issued + 90 * DAY, revoked ? 'revoked' : 'valid',
          revoked ? issued + DAY : null, revoked ? 4 : null, issued, `dns:${name}`, issued + 60 * DAY);
        ident.run(name, serial, reverseLabels(name));
        audit.run(issued, serial);
      }
    }
  })();
  db.exec('ANALYZE');
  db.close();
}

/** Each request `runs` times after one untimed (the first of the cold summary is the one measured). */
async function timed(app, request, runs = 7) {
  const times = [];
  let res;
  for (let i = 0; i <= runs; i++) {
    const s = performance.now();
    res = await app.inject(request);
    if (i > 0) times.push(performance.now() - s);
  }
  return { res, medianMs: ms(median(times)), maxMs: ms(Math.max(...times)) };
}

/** The row about 90% in, by the list's order: the previous row's (not_after, serial) is the cursor. */
function deepCursor(before, expected) {
  return { cursor: encodeCursor({ notAfter: new Date(Number(before.not_after)), serial: before.serial }), expected };
}

async function sqliteLedger(dir, certs, keep, log, results) {
  const file = path.join(dir, 'ledger.sqlite3');
  if (!keep || !existsSync(file)) {
    new SqliteLedger({ file }).close(); // migrations
    const t = performance.now();
    generate(file, certs, Date.now());
    results.generateSeconds = +((performance.now() - t) / 1000).toFixed(1);
    log(`console/sqlite: generated ${certs} certificates and their issuance audit entries in ${results.generateSeconds} s`);
  }
  const db = new Database(file, { readonly: true });
  const deepAt = Math.floor(certs * 0.9);
  const before = db.prepare('SELECT not_after, serial FROM certificates ORDER BY not_after, serial LIMIT 1 OFFSET ?').get(deepAt - 1);
  const expected = db.prepare('SELECT serial FROM certificates ORDER BY not_after, serial LIMIT 1 OFFSET ?').get(deepAt).serial;
  db.close();
  return { ledger: new SqliteLedger({ file, mustExist: true }), deepAt, ...deepCursor(before, expected), stop: async () => {} };
}

/** The same ledger on a throw-away PostgreSQL (kept in `keep`/pg and reused, with --keep), loaded 10,000 rows a statement. */
async function postgresLedger(certs, log, results, keep) {
  const cluster = await startPostgres({ keep: keep && path.join(keep, 'pg') });
  try {
    const url = cluster.reused ? cluster.url('console') : await cluster.createDatabase('console');
    results.version = cluster.version;
    const ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 4 }) });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const t = performance.now();
      if (!cluster.reused) await generatePostgres(client, certs, log, results, t);
      const deepAt = Math.floor(certs * 0.9);
      const order = 'ORDER BY not_after, serial COLLATE "C" LIMIT 1 OFFSET $1';
      const before = (await client.query(`SELECT not_after, serial FROM certificates ${order}`, [deepAt - 1])).rows[0];
      const expected = (await client.query(`SELECT serial FROM certificates ${order}`, [deepAt])).rows[0].serial;
      return { ledger, deepAt, ...deepCursor(before, expected), stop: () => cluster.stop() };
    } finally {
      await client.end();
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** The ledger's rows in PostgreSQL, as generate() writes them in SQLite. */
async function generatePostgres(client, certs, log, results, t) {
  await client.query(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', true, 0)`);
  const now = Date.now();
  await client.query(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`);
  for (let from = 0; from < certs; from += 10_000) {
    const rows = fleetRows(from, Math.min(certs, from + 10_000), certs, now);
    const col = (f) => rows.map(f);
    await client.query(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status,
        revoked_at, revocation_reason, created_at, identifier_set, renewal_due_at)
      SELECT s, 'bench', '\\x00', 1, i, s, nb, nb + ${90 * DAY}, st, ra, rr, nb, k, nb + ${60 * DAY}
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::int[], $7::text[]) AS u(s, i, nb, st, ra, rr, k)`, [
      col((r) => r.serial), col((r) => JSON.stringify([{ type: 'dns', value: r.name }])), col((r) => r.issued), col((r) => (r.revoked ? 'revoked' : 'valid')),
      col((r) => (r.revoked ? r.issued + DAY : null)), col((r) => (r.revoked ? 4 : null)), col((r) => `dns:${r.name}`),
    ]);
    await client.query(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value)
      SELECT 'dns', v, s, r FROM unnest($1::text[], $2::text[], $3::text[]) AS u(v, s, r)`, [col((r) => r.name), col((r) => r.serial), col((r) => reverseLabels(r.name))]);
    await client.query(`INSERT INTO audit_log (at, actor, action, subject, detail)
      SELECT a, 'account:bench', 'issue', s, '{}' FROM unnest($1::bigint[], $2::text[]) AS u(a, s)`, [col((r) => r.issued), col((r) => r.serial)]);
  }
  await client.query('VACUUM ANALYZE');
  results.generateSeconds = +((performance.now() - t) / 1000).toFixed(1);
  log(`console/postgres: generated ${certs} certificates and their issuance audit entries in ${results.generateSeconds} s`);
}

export async function measureConsole({ certs = 1_000_000, log = () => {}, keep, backend = 'sqlite' } = {}) {
  const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'certmint-bench-console-'));
  const results = { certs, backend, timing: 'fastify inject on createAdminServer (server side, in process)', targets: CONSOLE_TARGETS };
  try {
    results.assets = consoleAssetsGzipped();
    const missing = backend === 'postgres' ? postgresUnavailable() : null;
    if (missing) return { ...results, skipped: missing };
    const opened = backend === 'postgres' ? await postgresLedger(certs, log, results, keep) : await sqliteLedger(dir, certs, keep, log, results);
    const { ledger, deepAt, cursor, expected } = opened;
    // The system clock, moved forward by hand to see the summary's cache age.
    const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };
    const deps = { ledger, clock };
    const ra = {
      authenticateAdmin: (h) => authenticateAdmin(deps, h),
      startConsoleSession: (admin, limits) => startConsoleSession(deps, admin, limits),
      resumeConsoleSession: (id, limits) => resumeConsoleSession(deps, id, limits),
      endConsoleSession: (id) => endConsoleSession(deps, id),
      noteAdminTokenUse: (k) => noteAdminTokenUse(deps, k),
    };
    const app = await createAdminServer({ ra, ledger, clock, problems: { send: sendProblem, errorHandler: problemErrorHandler } });
    try {
      const { token } = await createAdminToken(deps, { name: `bench-${Date.now()}`, role: 'viewer' }, 'operator:bench');
      const bearer = { authorization: `Bearer ${token}` };
      const api = (url) => ({ method: 'GET', url, headers: bearer });
      const check = (label, res, serial) => {
        if (res.statusCode !== 200) throw new Error(`${label}: HTTP ${res.statusCode}: ${res.body.slice(0, 300)}`);
        if (serial && !res.body.includes(serial)) throw new Error(`${label}: the page does not hold ${serial}, the row ${deepAt} rows in`);
      };

      // The summary: the first computation starts once the server is ready (in the background); a
      // request at that moment waits for it. Meanwhile, the longest the server's thread was held.
      // (A 1 ms timer's longest gap: the histogram of monitorEventLoopDelay saw none of SQLite's synchronous reads.)
      let last = performance.now();
      let coldLoopMaxMs = 0;
      const ticker = setInterval(() => {
        coldLoopMaxMs = Math.max(coldLoopMaxMs, performance.now() - last);
        last = performance.now();
      }, 1);
      await app.ready();
      let s = performance.now();
      const cold = await app.inject(api('/api/v1/summary'));
      const coldMs = ms(performance.now() - s);
      clearInterval(ticker);
      coldLoopMaxMs = ms(coldLoopMaxMs);
      check('summary', cold);
      const cached = await timed(app, api('/api/v1/summary'));
      // Past half their life the figures are still served at once, and the next computation starts.
      clock.offsetMs = 31_000;
      s = performance.now();
      check('summary past half its life', await app.inject(api('/api/v1/summary')));
      const refreshAheadMs = ms(performance.now() - s);
      clock.offsetMs = 61_000;
      check('summary a minute later', await app.inject(api('/api/v1/summary')));
      clock.offsetMs = 0;
      results.summary = {
        coldMs, coldLoopMaxMs, cachedMedianMs: cached.medianMs, cachedMaxMs: cached.maxMs, refreshAheadMs,
        counts: JSON.parse(cold.body).counts,
      };
      // A computation's ledger read again (warmer than the first time), off the server's thread.
      await delay(3000); // the computation started past half its life is done
      const at = new Date();
      const parts = {
        summaryCounts: () => ledger.summaryCounts(at, 90, 7 * DAY),
      };
      results.summary.readsMs = {};
      for (const [name, read] of Object.entries(parts)) {
        const p = performance.now();
        await read();
        results.summary.readsMs[name] = ms(performance.now() - p);
      }

      const first = await timed(app, api(`/api/v1/certificates?limit=${PAGE}`));
      check('API first page', first.res);
      const deep = await timed(app, api(`/api/v1/certificates?limit=${PAGE}&cursor=${cursor}`));
      check('API deep page', deep.res, expected);
      if (JSON.parse(deep.res.body).certificates[0]?.serial !== expected) throw new Error('API deep page: does not start at the row after the cursor');
      results.api = { firstPage: { medianMs: first.medianMs, maxMs: first.maxMs }, deepPage: { medianMs: deep.medianMs, maxMs: deep.maxMs, rowsIn: deepAt } };

      // The console's list page, signed in as the console signs in (a session cookie).
      const login = await app.inject({ method: 'POST', url: '/console/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(token)}` });
      const cookie = String(login.headers['set-cookie'] ?? '').split(';')[0];
      if (login.statusCode !== 303 || !cookie) throw new Error(`console sign-in: HTTP ${login.statusCode}`);
      const page = (url) => ({ method: 'GET', url, headers: { cookie } });
      const cFirst = await timed(app, page(`/console/certificates?limit=${PAGE}`));
      check('console first page', cFirst.res);
      const cDeep = await timed(app, page(`/console/certificates?limit=${PAGE}&cursor=${cursor}`));
      check('console deep page', cDeep.res, expected);
      results.console = { firstPage: { medianMs: cFirst.medianMs, maxMs: cFirst.maxMs }, deepPage: { medianMs: cDeep.medianMs, maxMs: cDeep.maxMs, rowsIn: deepAt } };
    } finally {
      await app.close();
      await ledger.close();
      await opened.stop();
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { certs: { type: 'string', default: '1000000' }, json: { type: 'string' }, keep: { type: 'string' }, backend: { type: 'string', default: 'sqlite' } } });
  if (values.keep) mkdirSync(values.keep, { recursive: true });
  const results = await measureConsole({ certs: Number(values.certs), log: (m) => console.error(m), keep: values.keep, backend: values.backend });
  const text = JSON.stringify(results, null, 2);
  if (values.json) writeFileSync(values.json, `${text}\n`);
  console.log(text);
}
