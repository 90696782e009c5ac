import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crlNumberOf } from '../../src/ca/crl/info.js';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';

// Issue 20, point 3: a ledger with tens of thousands of revoked certificates (a CRL of a few MB),
// one account revoking twice a second and eight clients downloading /crl back to back must not
// take issuance away from an honest client. Bounded: four phases of PHASE_MS each, a fixed
// number of hostile clients. Figures are printed for the report; the bound asserted is generous
// (the test shares two cores with the rest of the suite).
const REVOKED = 50_000;
const PHASE_MS = 6_000;
const CRL_DOWNLOADERS = 8;
const HOSTILE_REVOKE_EVERY_MS = 500;
const HOSTILE_CERTS = 2 * Math.ceil(PHASE_MS / HOSTILE_REVOKE_EVERY_MS) + 2;
const DAY = 86_400_000;

let certmint: CertmintProcess;
let responder: Http01Responder;
let wire: AcmeWire;

/** Revoked certificates straight into the ledger, as bench/ledger-crl.mjs does: the CRL's bulk, not ACME's. */
function seedRevoked(ledgerFile: string): void {
  const db = new Database(ledgerFile);
  const now = Date.now();
  db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('seeded', 'seeded', '{}', 'valid', '[]', 1, 0)`).run();
  db.prepare(`INSERT INTO certificate_chains (pem) VALUES ('') ON CONFLICT (pem) DO NOTHING`).run();
  const cert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status, revoked_at, revocation_reason, created_at)
    VALUES (?, 'seeded', x'00', (SELECT id FROM certificate_chains WHERE pem = ''), '[]', ?, ?, ?, 'revoked', ?, 4, ?)`);
  db.transaction(() => {
    for (let i = 0; i < REVOKED; i++) {
      const serial = `7e${i.toString(16).padStart(30, '0')}`;
      cert.run(serial, serial, now - DAY, now + 30 * DAY, now - 1000, now - DAY);
    }
  })();
  // Stale: the server builds the big CRL when it starts.
  db.prepare(`UPDATE crl_state SET dirty = 1 WHERE issuer = 'intermediate'`).run();
  db.close();
}

/** User and system CPU seconds the server process has used so far (/proc/<pid>/stat, 100 ticks a second). */
function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${certmint.process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function download(agent: Agent, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve(Buffer.concat(chunks)));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/**
 * `count` clients downloading /crl back to back (keep-alive, no conditional headers: every one a
 * full download) for PHASE_MS, in a process of their own: decrypting megabytes of TLS in this
 * one would slow the honest client here, not the server.
 */
function downloadersProcess(count: number): Promise<{ downloads: number; bytes: number }> {
  const script = `
    const https = require('node:https');
    const agent = new https.Agent({ ca: process.env.CA, keepAlive: true, maxSockets: ${count} });
    const until = Date.now() + ${PHASE_MS};
    let downloads = 0, bytes = 0;
    const one = () => new Promise((resolve, reject) => {
      https.get(process.env.URL, { agent }, (res) => {
        res.on('data', (c) => { bytes += c.length; });
        res.once('end', () => { downloads++; resolve(); });
      }).once('error', reject);
    });
    const loop = async () => { while (Date.now() < until) await one(); };
    Promise.all(Array.from({ length: ${count} }, loop)).then(() => {
      process.stdout.write(JSON.stringify({ downloads, bytes }));
      agent.destroy();
    });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, CA: certmint.rootPem, URL: `${certmint.baseUrl}/crl` } }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as { downloads: number; bytes: number }),
    );
  });
}

const crlNumber = async () => crlNumberOf(await download(new Agent({ ca: certmint.rootPem }), `${certmint.baseUrl}/crl`))!;

async function issue(account: WireAccount, name: string): Promise<Buffer> {
  const order = await wire.readyOrder(account, [name], responder);
  const fin = await wire.finalize(account, order.finalize, [name]);
  if (fin.status !== 200) throw new Error(`finalize: ${fin.status} ${fin.body}`);
  const pem = (await wire.postAsGet(account, String(JSON.parse(fin.body).certificate))).body;
  return Buffer.from(pem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64');
}

interface Phase {
  readonly issued: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly maxMs: number;
  readonly serverCpuS: number;
  readonly crlBuilds: number;
  readonly revocations: number;
  readonly crlDownloads: number;
  readonly crlMB: number;
}

let honestSerial = 0;

/** The honest client issues one certificate after another for PHASE_MS while the hostile ones run. */
async function phase(honest: WireAccount, o: { revoke?: { account: WireAccount; certs: Buffer[] }; downloaders?: number }): Promise<Phase> {
  const buildsBefore = await crlNumber();
  const cpuBefore = serverCpuSeconds();
  const started = performance.now();
  const running = () => performance.now() - started < PHASE_MS;
  let revocations = 0;
  let crlDownloads = 0;
  let crlBytes = 0;
  const hostile: Promise<void>[] = [];
  if (o.revoke) {
    const { account, certs } = o.revoke;
    hostile.push((async () => {
      while (running() && certs.length > 0) {
        const at = performance.now();
        const res = await wire.post(account.key, `${certmint.baseUrl}/acme/revoke-cert`, { certificate: certs.shift()!.toString('base64url') }, account.url);
        if (res.status !== 200) throw new Error(`revoke: ${res.status} ${res.body}`);
        revocations++;
        await new Promise((r) => setTimeout(r, Math.max(0, HOSTILE_REVOKE_EVERY_MS - (performance.now() - at))));
      }
    })());
  }
  if (o.downloaders) {
    hostile.push(downloadersProcess(o.downloaders).then((r) => {
      crlDownloads = r.downloads;
      crlBytes = r.bytes;
    }));
  }
  const times: number[] = [];
  while (running()) {
    const at = performance.now();
    await issue(honest, `honest${honestSerial++}.pressure.test`);
    times.push(performance.now() - at);
  }
  const elapsed = performance.now() - started;
  await Promise.all(hostile);
  const cpu = serverCpuSeconds() - cpuBefore;
  times.sort((a, b) => a - b);
  return {
    issued: times.length,
    perSecond: +(times.length / (elapsed / 1000)).toFixed(2),
    p50Ms: Math.round(times[Math.floor(times.length / 2)]!),
    maxMs: Math.round(times.at(-1)!),
    serverCpuS: +cpu.toFixed(2),
    crlBuilds: Number((await crlNumber()) - buildsBefore),
    revocations,
    crlDownloads,
    crlMB: +(crlBytes / 1e6).toFixed(1),
  };
}

describe(`CRL pressure: ${REVOKED} revoked entries, an account revoking every ${HOSTILE_REVOKE_EVERY_MS} ms, ${CRL_DOWNLOADERS} parallel /crl downloads`, () => {
  beforeAll(async () => {
    const first = await startCertmint();
    certmint = await first.restart(async () => seedRevoked(path.join(first.dataDirView, 'ledger.sqlite3')));
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
  }, 120_000);
  afterAll(async () => {
    await responder?.stop();
    await certmint?.stop();
  });

  it('the honest client keeps issuing, within a bound, while the hostile ones run', { timeout: 240_000 }, async () => {
    // The CRL of every seeded revocation, built when the server started.
    for (let i = 0; ; i++) {
      const crl = await download(new Agent({ ca: certmint.rootPem }), `${certmint.baseUrl}/crl`);
      if (crl.length > REVOKED * 30) break;
      if (i > 600) throw new Error('the seeded CRL was not published');
      await new Promise((r) => setTimeout(r, 100));
    }
    const honest = (await wire.newAccount()).account!;
    const attacker = (await wire.newAccount()).account!;
    const certs: Buffer[] = [];
    for (let i = 0; i < HOSTILE_CERTS; i++) certs.push(await issue(attacker, `hostile${i}.pressure.test`));

    const alone = await phase(honest, {});
    const revoking = await phase(honest, { revoke: { account: attacker, certs } });
    const downloading = await phase(honest, { downloaders: CRL_DOWNLOADERS });
    const both = await phase(honest, { revoke: { account: attacker, certs }, downloaders: CRL_DOWNLOADERS });
    console.log(`CRL pressure (${REVOKED} revoked, phases of ${PHASE_MS} ms):\n${JSON.stringify({ alone, revoking, downloading, both }, null, 1)}`);

    expect(alone.issued).toBeGreaterThan(0);
    for (const loaded of [revoking, downloading, both]) {
      // Served within a bound: at least one issuance in the phase, and the slowest one within
      // twenty times the median alone plus five seconds. Measured on a 2-core machine under a
      // load average of 12-16: slowest 0.9-2.6 s against a median alone of 135-267 ms (before the
      // fix: 3.9-4.8 s against 99-204 ms). Generous, so a loaded CI machine does not flake it.
      expect(loaded.issued).toBeGreaterThan(0);
      expect(loaded.maxMs).toBeLessThan(20 * alone.p50Ms + 5_000);
    }
    // Revocations coalesce: at most one CRL build per crl.minInterval (10 s) for revocations, plus
    // the one the first revocation of a phase may start.
    expect(revoking.crlBuilds).toBeLessThanOrEqual(Math.ceil(PHASE_MS / 10_000) + 1);
    expect(both.crlBuilds).toBeLessThanOrEqual(Math.ceil(PHASE_MS / 10_000) + 1);
  });
});
