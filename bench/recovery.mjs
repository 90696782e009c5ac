// Timings that correctness tests used to bound with wall-clock limits, which failed on a loaded
// machine while the property held (issue 21): how fast `certmint serve` is ready again after a
// kill -9 under issuance load (test/crash/kill9.test.ts checks that it recovers and loses
// nothing), and how long `certmint ledger copy` takes for N certificates (src/cli/ledger-copy.test.ts
// checks the copy row by row). bench/run.mjs reports both against their targets; a miss never
// fails the run.
import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteLedger } from '../dist/ledger/sqlite/ledger.js';
import { reverseLabels } from '../dist/ledger/names.js';
import { postgresUnavailable, startPostgres } from './postgres.mjs';
import { CERTMINT_MAIN, certmintEnv, spawnLogged, startCertmint, writeCertmintConfig } from './processes.mjs';

const execFileAsync = promisify(execFile);
const DAY = 86_400_000;

/**
 * `kills` times: kill -9 of a certmint serve while the Go client issues with `workers` workers
 * (`pauseMs` into the load each time), then the same config started again; restart ms is spawn →
 * "ACME directory at" (the crash test's 2 s target was on the same span).
 */
export async function measureKill9Restarts({ dir, dns, acmego, http01Port, kills, workers = 16, pauseMs = 1500, accountKey = 'ec256', nameTemplate, log = () => {} }) {
  const dataDir = path.join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port });
  let server = await startCertmint(configFile, { logFile: path.join(dir, 'serve-0.log') });
  const load = spawnLogged(acmego, [
    '-mode', 'load', '-n', '1000000', '-c', String(workers), '-account-key', accountKey, '-name-template', nameTemplate,
    '-directory', server.directoryUrl, '-ca-bundle', path.join(dataDir, 'ca', 'root.pem'),
    '-http01-listen', `127.0.0.1:${http01Port}`, '-flow-timeout', '20s', '-error-pause', '200ms',
  ], { logFile: path.join(dir, 'load.log') });
  const restartsMs = [];
  try {
    for (let kill = 0; kill < kills; kill++) {
      await delay(pauseMs);
      process.kill(server.pid, 'SIGKILL');
      await server.exited;
      server = await startCertmint(configFile, { logFile: path.join(dir, `serve-${kill + 1}.log`) });
      restartsMs.push(Math.round(server.startMs));
      log(`kill -9 #${kill + 1}: ready again in ${restartsMs.at(-1)} ms`);
    }
  } finally {
    load.child.kill('SIGINT');
    await load.exited;
    await server.stop();
  }
  const db = new Database(path.join(dataDir, 'ledger.sqlite3'), { readonly: true, fileMustExist: true });
  const certificates = db.prepare('SELECT count(*) FROM certificates').pluck().get();
  db.close();
  if (certificates === 0) throw new Error(`the load issued nothing across ${kills} kills:\n${load.tail()}`);
  return { kills, workers, certificates, restartsMs, maxMs: Math.max(...restartsMs), medianMs: median(restartsMs) };
}

/**
 * A SQLite ledger of `certs` certificates with two names each (written by SQL, as ledger-crl.mjs
 * does: the ACME path is not what is measured), then `certmint ledger copy --to` a database of a
 * throw-away PostgreSQL cluster (bench/postgres.mjs). Reports the command's own figure and the
 * wall time with node's start; `{ skipped }` when PostgreSQL is not installed.
 */
export async function measureLedgerCopy({ dir, certs, log = () => {} }) {
  const noPostgres = postgresUnavailable();
  if (noPostgres) {
    log(`ledger copy skipped: ${noPostgres}`);
    return { skipped: noPostgres };
  }
  mkdirSync(dir, { recursive: true });
  const cluster = await startPostgres();
  try {
    const file = path.join(dir, 'ledger.sqlite3');
    new SqliteLedger({ file }).close(); // migrations
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('bench', 'bench', '{}', 'valid', '[]', 1, 0)`).run();
    const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status, created_at)
      VALUES (?, 'bench', ?, 1, ?, ?, ?, ?, 'valid', ?)`);
    const ident = db.prepare(`INSERT INTO certificate_identifiers (identifier_type, identifier_value, serial, reversed_value) VALUES ('dns', ?, ?, ?)`);
    const now = Date.now();
    // Sizes of real leaves and chains, so the copy moves realistic bytes.
    const der = Buffer.alloc(900, 0x5a);
    const chain = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(1400)}\n-----END CERTIFICATE-----\n`;
    // One chain row for every certificate, as one intermediate generation (migrations/0028_certificate_chains.sql).
    db.prepare('INSERT INTO certificate_chains (id, pem) VALUES (1, ?)').run(chain);
    db.transaction(() => {
      for (let i = 0; i < certs; i++) {
        const serial = `02${i.toString(16).padStart(32, '0')}`;
        const names = [`svc${i}.copy.bench.internal`, `alt${i}.copy.bench.internal`];
        cert.run(serial, der, JSON.stringify(names.map((value) => ({ type: 'dns', value }))), serial, now - DAY, now + 30 * DAY, now);
        for (const name of names) ident.run(name, serial, reverseLabels(name));
      }
    })();
    db.close();
    const url = await cluster.createDatabase(`certmint_copy_${certs}`);
    const started = performance.now();
    const { stdout } = await execFileAsync(process.execPath, [CERTMINT_MAIN, 'ledger', 'copy', '--to', url], { env: certmintEnv({ CERTMINT_DATA_DIR: dir }), maxBuffer: 16 * 1024 * 1024 });
    const wallMs = Math.round(performance.now() - started);
    const copied = Number(/^ {2}certificates +(\d+)$/m.exec(stdout)?.[1]);
    if (copied !== certs) throw new Error(`ledger copy reported ${copied} certificates, not ${certs}:\n${stdout}`);
    const commandMs = Number(/in (\d+) ms;/.exec(stdout)?.[1]);
    log(`ledger copy of ${certs} certificates: ${commandMs} ms in the command, ${wallMs} ms with node start-up`);
    return { certificates: certs, names: 2 * certs, commandMs, wallMs, msPer1000: +((commandMs * 1000) / certs).toFixed(1) };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
}
