// Ledger-scale measurements: a CRL of REVOKED entries on a ledger of CERTS certificates, the
// inventory queries operators run, and `certmint serve` start time, on a generated SQLite ledger
// (real migrations, real CA). bench/run.mjs imports measureLedgerScale; it also runs on its own:
// Usage: node bench/ledger-crl.mjs [--certs 1000000] [--revoked 100000] [--start-runs 5] [--json FILE]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import Database from 'better-sqlite3';
import { initCa } from '../dist/ca/ca-files.js';
import { nativeCryptoProvider } from '../dist/ca/crypto-provider.js';
import { systemClock } from '../dist/core/clock.js';
import { CrlPublisher } from '../dist/crl/crl-publisher.js';
import { partitionCrlIssuer } from '../dist/ledger/ledger.js';
import { SqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { reverseLabels } from '../dist/ledger/names.js';
import { CERTMINT_MAIN, certmintEnv, startCertmint, writeCertmintConfig } from './processes.mjs';

const execFileAsync = promisify(execFile);
const DAY = 86_400_000;
/** crl.partitions of the partitioned-CRL case (issue 27). */
const PARTITIONS = 16;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Generates a ledger of `certs` certificates (`revoked` of them revoked and unexpired) in a
 * temporary data dir and measures on it: CRL build + sign, `certs list` queries (in process, and
 * the `certs list --expiring-within 7d` command end to end), and `certmint serve` start time
 * (spawn → "ACME directory at", `startRuns` times, with a CA made by `certmint ca init`).
 */
export async function measureLedgerScale({ certs: CERTS = 1_000_000, revoked: REVOKED = 100_000, startRuns = 5, log = () => {} } = {}) {
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
    db.prepare(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`).run();
    const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status, revoked_at, revocation_reason, created_at, crl_partition)
      VALUES (?, 'bench', x'00', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
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
        // Issued with crl.partitions 16: spread so that the revoked ones (every `every`-th) fill the 16 partitions evenly,
        // as random serials modulo 16 do (these serials are sequential, so serial mod 16 would not).
        const partition = Math.floor(i / every) % PARTITIONS;
        cert.run(serial, JSON.stringify([{ type: 'dns', value: name }]), serial, now - DAY, notAfter, revoked ? 'revoked' : 'valid', revoked ? now - 1000 : null, revoked ? (i % 2 ? 1 : 4) : null, now, partition);
        ident.run(name, serial, reverseLabels(name));
      }
    })();
    db.exec('ANALYZE');
    db.close();
    results.generateSeconds = +((performance.now() - t) / 1000).toFixed(1);
    log(`ledger: generated ${CERTS} certificates in ${results.generateSeconds} s`);

    const ledger = new SqliteLedger({ file, mustExist: true });
    const revokedCount = (await ledger.listRevokedUnexpired(new Date(), 1)).count;
    const crypto = nativeCryptoProvider();
    const ca = await initCa({ dir: path.join(dir, 'crl-bench-ca'), name: 'bench', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i', crypto, crlPartitions: PARTITIONS });
    const publisher = new CrlPublisher({
      ledger, ca, clock: systemClock, dir: path.join(dir, 'crl-bench'),
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

    // Partitioned CRLs (crl.partitions, issue 27): what a revocation rebuilds. N = 1: the whole
    // generation's CRL (every entry); N = 16: the revoked certificate's partition only (~1/16 of
    // the entries, with its Issuing Distribution Point). Median of 3 builds each, after a warm-up.
    const buildMedian = async (issuer) => {
      await publisher.generate(issuer);
      const runs = [];
      let built;
      for (let i = 0; i < 3; i++) {
        const s = performance.now();
        built = await publisher.generate(issuer);
        runs.push(performance.now() - s);
      }
      return { medianMs: Math.round(median(runs)), sizeBytes: built.der.length };
    };
    const whole = await buildMedian('intermediate');
    const onePartition = await buildMedian(partitionCrlIssuer(1, 5));
    results.crlPartitions = [
      { partitions: 1, rebuilds: 'the whole generation\'s CRL', entries: revokedCount, buildAndSignMs: whole.medianMs, sizeBytes: whole.sizeBytes },
      {
        partitions: PARTITIONS,
        rebuilds: 'one partition\'s CRL',
        entries: (await ledger.listRevokedUnexpired(new Date(), 1, 5)).count,
        buildAndSignMs: onePartition.medianMs,
        sizeBytes: onePartition.sizeBytes,
      },
    ];
    log(`ledger: a revocation rebuilds ${revokedCount} entries in ${whole.medianMs} ms with crl.partitions 1, ${results.crlPartitions[1].entries} in ${onePartition.medianMs} ms with ${PARTITIONS}`);

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
    log(`ledger: CRL of ${revokedCount} entries built in ${results.crl.buildAndSignMs} ms; list queries done`);

    // The server on this ledger: the data dir is `dir` (ledger.sqlite3 is already there).
    const configFile = await writeCertmintConfig(dir, { dataDir: dir, dnsAddress: '127.0.0.1:53', http01Port: 80 });
    const cli = (args) => execFileAsync(process.execPath, [CERTMINT_MAIN, ...args, '--config', configFile], { env: certmintEnv(), maxBuffer: 64 * 1024 * 1024 });
    await cli(['ca', 'init']);
    const listRuns = [];
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      await cli(['certs', 'list', '--expiring-within', '7d']);
      listRuns.push(performance.now() - s);
    }
    results.listCommand = { command: 'certmint certs list --expiring-within 7d', medianMs: Math.round(median(listRuns)), runsMs: listRuns.map(Math.round) };
    const starts = [];
    for (let i = 0; i < startRuns; i++) {
      const server = await startCertmint(configFile, { logFile: path.join(dir, `serve-${i}.log`), timeoutMs: 120_000 });
      starts.push(server.startMs);
      await server.stop();
    }
    results.serverStart = { medianMs: Math.round(median(starts)), runsMs: starts.map(Math.round) };
    log(`ledger: server start median ${results.serverStart.medianMs} ms over ${startRuns} runs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { certs: { type: 'string', default: '1000000' }, revoked: { type: 'string', default: '100000' }, 'start-runs': { type: 'string', default: '5' }, json: { type: 'string' } } });
  const results = await measureLedgerScale({ certs: Number(values.certs), revoked: Number(values.revoked), startRuns: Number(values['start-runs']), log: (m) => console.error(m) });
  console.log(JSON.stringify(results, null, 2));
  if (values.json) {
    mkdirSync(path.dirname(values.json), { recursive: true });
    writeFileSync(values.json, JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2));
  }
}
