// Ledger-scale measurements: a CRL of REVOKED entries on a ledger of CERTS certificates, and the
// inventory queries operators run, on a generated SQLite ledger (real migrations, real CA).
// Usage: node bench/ledger-crl.mjs [--certs 1000000] [--revoked 100000] [--json FILE]
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { initCa } from '../dist/ca/ca-files.js';
import { nativeCryptoProvider } from '../dist/ca/crypto-provider.js';
import { systemClock } from '../dist/core/clock.js';
import { CrlPublisher } from '../dist/crl/crl-publisher.js';
import { SqliteLedger } from '../dist/ledger/sqlite-ledger.js';
import { reverseLabels } from '../dist/ledger/sqlite-names.js';

const { values } = parseArgs({ options: { certs: { type: 'string', default: '1000000' }, revoked: { type: 'string', default: '100000' }, json: { type: 'string' } } });
const CERTS = Number(values.certs);
const REVOKED = Number(values.revoked);
const DAY = 86_400_000;
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-bench-'));
const results = {};
try {
  const file = path.join(dir, 'ledger.sqlite3');
  new SqliteLedger({ file }).close(); // migrations
  // Bulk-load through SQL (the ACME path is measured by the issuance benchmark, not here).
  let t = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', 1, 0)`).run();
  const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status, revoked_at, revocation_reason, created_at)
    VALUES (?, 'bench', x'00', '', ?, ?, ?, ?, ?, ?, ?, ?)`);
  const ident = db.prepare(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value) VALUES ('dns', ?, ?, ?)`);
  const now = Date.now();
  // 80 of every 90 certificates are unexpired; revoke REVOKED of those, spread evenly.
  const every = Math.max(1, Math.floor((CERTS * 80) / 90 / REVOKED));
  let revokedSoFar = 0;
  db.transaction(() => {
    for (let i = 0; i < CERTS; i++) {
      const serial = `01${i.toString(16).padStart(32, '0')}`;
      const name = `svc${i}.ns${i % 1000}.svc.cluster.local`;
      const notAfter = now + ((i % 90) - 10) * DAY; // some expired, spread over 80 days ahead
      const revoked = notAfter > now && revokedSoFar < REVOKED && i % every === 0;
      if (revoked) revokedSoFar++;
      cert.run(serial, JSON.stringify([{ type: 'dns', value: name }]), serial, now - DAY, notAfter, revoked ? 'revoked' : 'valid', revoked ? now - 1000 : null, revoked ? (i % 2 ? 1 : 4) : null, now);
      ident.run(name, serial, reverseLabels(name));
    }
  })();
  db.exec('ANALYZE');
  db.close();
  results.generateSeconds = +((performance.now() - t) / 1000).toFixed(1);

  const ledger = new SqliteLedger({ file, mustExist: true });
  const revokedCount = (await ledger.listRevokedUnexpired(new Date())).count;
  const crypto = nativeCryptoProvider();
  const ca = await initCa({ dir: path.join(dir, 'ca'), name: 'bench', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i', crypto });
  const publisher = new CrlPublisher({
    ledger, ca, clock: systemClock, dir: path.join(dir, 'crl'),
    policy: { validityMs: DAY, refreshMs: 3_600_000, rootValidityMs: 30 * DAY, checkIntervalMs: 5000 },
    log: { info: () => {}, error: () => {} },
  });
  await publisher.generate(); // warm-up
  // The longest time the event loop could not run a 1 ms timer while the CRL was built: how long
  // a request arriving then would have waited.
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const at = performance.now();
    maxGap = Math.max(maxGap, at - last);
    last = at;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t = performance.now();
  last = t;
  const crl = await publisher.generate();
  const buildMs = performance.now() - t;
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(ticker);
  results.crl = {
    entries: revokedCount,
    buildAndSignMs: Math.round(buildMs),
    sizeBytes: crl.der.length,
    eventLoopMaxStallMs: Math.round(maxGap),
  };

  const time = async (label, filter) => {
    const runs = [];
    let rows = 0;
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      rows = (await ledger.listCertificates({ now: new Date(), limit: 1000, ...filter })).length;
      runs.push(performance.now() - s);
    }
    runs.sort((a, b) => a - b);
    results.list ??= {};
    results.list[label] = { medianMs: +runs[2].toFixed(1), rows };
  };
  await time('--expiring-within 7d', { expiringWithinMs: 7 * DAY });
  await time('--expired', { expired: true });
  await time('--revoked', { revoked: true });
  await time('--identifier *.ns7.svc.cluster.local', { identifier: '*.ns7.svc.cluster.local' });
  await time('--identifier svc4242.ns242.svc.cluster.local', { identifier: 'svc4242.ns242.svc.cluster.local' });
  await time('--account bench', { accountId: 'bench' });
  await ledger.close();

  t = performance.now();
  const reopened = new SqliteLedger({ file, mustExist: true });
  results.ledgerOpenMs = Math.round(performance.now() - t);
  await reopened.close();
  results.certificates = CERTS;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(results, null, 2));
if (values.json) {
  mkdirSync(path.dirname(values.json), { recursive: true });
  writeFileSync(values.json, JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2));
}
