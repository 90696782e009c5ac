import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { ManualClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { CRL_LEASE_MS, CrlBuildBusy, CrlPublisher, type CrlPolicy } from './crl-publisher.js';
import { useCaWithLedger } from '../../test/support/ca-with-ledger.js';
import { issueRecordedLeaf } from '../../test/support/recorded-leaf.js';
import { capturedLogger } from '../../test/support/suite-log.js';

const HOUR = 3_600_000;
const policy: CrlPolicy = { validityMs: 24 * HOUR, refreshMs: HOUR, rootValidityMs: 30 * 24 * HOUR, checkIntervalMs: 60_000 };
// Logged as certmint serve logs, scanned for this CA's keys in afterAll and with the whole run.
const captured = capturedLogger('crl-publisher.test');
const log = captured.log;
let dir: string;
let ca: X509CertificateAuthority;
let ledger: SqliteLedger;
const clock = new ManualClock(new Date());

useCaWithLedger({ prefix: 'crl', name: 'crl test', clock, captured }, (made) => ({ dir, ca, ledger } = made));

const publisher = () => new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl'), policy, log });

/** Issues a real leaf and records it in the ledger; returns its serial and PEM file. */
const leaf = (name: string, lifetimeMs = 24 * HOUR) => issueRecordedLeaf({ ca, ledger, clock, dir }, name, lifetimeMs);

function crlText(file: string): string {
  return execFileSync('openssl', ['crl', '-in', file, '-noout', '-text']).toString();
}

function verifyWithCrl(leafFile: string, crlPem: string): { ok: boolean; out: string } {
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', path.join(dir, 'root.pem'), '-untrusted', path.join(dir, 'chain.pem'), leafFile]);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/**
 * Reads the DER and PEM CRL files until `stop` exists; prints "reading" first, then
 * {"reads": n, "bad": [...]}: every read that was empty, cut short or not a whole CRL.
 */
const HALF_WRITTEN_CRL_READER = `
const fs = require('node:fs');
const [der, pem, stop] = process.argv.slice(1);
const bad = [];
let reads = 0;
// A whole DER CRL is one SEQUENCE whose length header covers exactly the bytes read.
function wholeDer(b) {
  if (b.length < 4 || b[0] !== 0x30) return false;
  let len = b[1], header = 2;
  if (len & 0x80) { const n = len & 0x7f; len = 0; for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]; header = 2 + n; }
  return b.length === header + len;
}
function wholePem(t) {
  if (!t.startsWith('-----BEGIN X509 CRL-----\\n') || !t.endsWith('-----END X509 CRL-----\\n')) return false;
  return wholeDer(Buffer.from(t.split('\\n').slice(1, -2).join(''), 'base64'));
}
process.stdout.write('reading\\n');
while (!fs.existsSync(stop)) {
  for (const [file, whole] of [[der, (f) => wholeDer(fs.readFileSync(f))], [pem, (f) => wholePem(fs.readFileSync(f, 'utf8'))]]) {
    let ok;
    try { ok = whole(file); } catch (e) { ok = false; }
    reads++;
    if (!ok && bad.length < 5) bad.push(file + ' read ' + reads + ' was not a whole CRL');
  }
}
process.stdout.write(JSON.stringify({ reads, bad }));
`;

describe('CrlPublisher', () => {
  it('publishes both CRLs at start, verified by openssl, as DER and PEM files and in the ledger', async () => {
    const p = publisher();
    await p.check();
    const pemFile = path.join(dir, 'crl', 'intermediate.crl.pem');
    const fromPem = spawnSync('openssl', ['crl', '-in', pemFile, '-CAfile', path.join(dir, 'bundle.pem'), '-noout']);
    expect(`${fromPem.stdout}${fromPem.stderr}`).toContain('verify OK');
    const v = spawnSync('openssl', ['crl', '-in', path.join(dir, 'crl', 'intermediate.crl'), '-inform', 'DER', '-CAfile', path.join(dir, 'bundle.pem'), '-noout']);
    expect(`${v.stdout}${v.stderr}`).toContain('verify OK');
    const r = spawnSync('openssl', ['crl', '-in', path.join(dir, 'crl', 'root.crl.pem'), '-CAfile', path.join(dir, 'root.pem'), '-noout']);
    expect(`${r.stdout}${r.stderr}`).toContain('verify OK');
    expect(crlText(pemFile)).toMatch(/Next Update: /);
    expect(Buffer.from(readFileSync(path.join(dir, 'crl', 'intermediate.crl'))).equals(Buffer.from(p.current('intermediate')!.der))).toBe(true);
    expect((await ledger.crlState('intermediate', new Date())).der).toEqual(p.current('intermediate')!.der);
    expect(p.current('intermediate')!.nextUpdate.getTime() - p.current('intermediate')!.thisUpdate.getTime()).toBe(24 * HOUR);
  });

  it('a restart leaves CRL files that hold the ledger\'s CRL as they are, and rewrites one that does not', async () => {
    await publisher().check();
    const file = (name: string) => path.join(dir, 'crl', name);
    const inode = (name: string) => statSync(file(name)).ino;
    const before = { der: inode('intermediate.crl'), pem: inode('intermediate.crl.pem'), root: inode('root.crl') };
    await publisher().check(); // the next start: the ledger's CRLs are adopted, nothing is signed
    expect({ der: inode('intermediate.crl'), pem: inode('intermediate.crl.pem'), root: inode('root.crl') }).toEqual(before);
    // A crash between the two writes of an earlier run left the PEM behind its DER.
    writeFileSync(file('intermediate.crl.pem'), '-----BEGIN X509 CRL-----\nstale\n-----END X509 CRL-----\n');
    const p = publisher();
    await p.check();
    expect(readFileSync(file('intermediate.crl.pem'), 'utf8')).toContain(Buffer.from(p.current('intermediate')!.der).toString('base64').slice(0, 64));
  });

  it('lists a revocation at the next check, with its reason, so openssl -crl_check rejects the leaf', async () => {
    const p = publisher();
    await p.check();
    const revoked = await leaf('revoked.crl.test');
    const kept = await leaf('kept.crl.test');
    const before = p.current('intermediate')!.crlNumber;
    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await p.check();
    const crl = p.current('intermediate')!;
    expect(crl.crlNumber).toBe(before + 1n);
    const pemFile = path.join(dir, 'crl', 'intermediate.crl.pem');
    const text = crlText(pemFile);
    expect(text).toContain(revoked.serial.toUpperCase());
    expect(text).toContain('Key Compromise');
    expect(text).not.toContain(kept.serial.toUpperCase());
    const rejected = verifyWithCrl(revoked.file, pemFile);
    expect(rejected.ok).toBe(false);
    expect(rejected.out).toMatch(/certificate revoked/);
    expect(verifyWithCrl(kept.file, pemFile).ok).toBe(true);
  });

  it('does nothing when nothing is due, regenerates after crl.refresh, and drops entries after expiry', async () => {
    const p = publisher();
    await p.check();
    const start = p.current('intermediate')!.crlNumber;
    await p.check();
    expect(p.current('intermediate')!.crlNumber).toBe(start);
    const shortLived = await leaf('short.crl.test', 2 * HOUR);
    await ledger.revokeCertificate({ serial: shortLived.serial, reason: 4, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await p.check();
    expect(crlText(path.join(dir, 'crl', 'intermediate.crl.pem'))).toContain(shortLived.serial.toUpperCase());
    clock.advance(HOUR + 1000);
    await p.check();
    expect(p.current('intermediate')!.crlNumber).toBe(start + 2n);
    clock.advance(2 * HOUR);
    await p.check();
    expect(crlText(path.join(dir, 'crl', 'intermediate.crl.pem'))).not.toContain(shortLived.serial.toUpperCase());
  });

  it('adopts a newer CRL another process signed, without signing one itself', async () => {
    const server = publisher();
    await server.check();
    const cli = publisher();
    const fromCli = await cli.generate();
    expect(fromCli.crlNumber).toBeGreaterThan(server.current('intermediate')!.crlNumber);
    await server.check();
    expect(server.current('intermediate')!.crlNumber).toBe(fromCli.crlNumber);
    expect((await ledger.crlState('intermediate', new Date())).crlNumber).toBe(fromCli.crlNumber);
  });

  it('never serves an older CRL under a number claimed by a build still in flight (here or in another process)', async () => {
    const server = publisher();
    await server.check();
    const revoked = await leaf('race.crl.test');
    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    // In this process: a revocation's refresh and the periodic check at once.
    await Promise.all([server.generate(), server.check()]);
    expect(crlText(path.join(dir, 'crl', 'intermediate.crl.pem'))).toContain(revoked.serial.toUpperCase());
    // Another process has claimed the next number but not stored its CRL yet.
    const cli = publisher();
    const building = cli.generate();
    const shown = server.current('intermediate')!;
    await server.check();
    expect(server.current('intermediate')).toBe(shown);
    const fromCli = await building;
    await server.check();
    expect(server.current('intermediate')!.crlNumber).toBe(fromCli.crlNumber);
    expect(Buffer.from(server.current('intermediate')!.der).equals(Buffer.from(fromCli.der))).toBe(true);
  });

  it('one builder at a time: another waits out the lease, a builder that died is replaced once it runs out', async () => {
    const a = publisher();
    const b = publisher();
    await a.check();
    const numberBefore = (await ledger.crlState('intermediate', clock.now())).crlNumber;
    const revoked = await leaf('lease.crl.test');
    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    // A is signing (its number claimed, its CRL not stored): B neither claims a number nor signs.
    const building = a.generate();
    await expect(b.generate()).rejects.toBeInstanceOf(CrlBuildBusy);
    await b.check();
    const fromA = await building;
    expect(fromA.crlNumber).toBe(numberBefore + 1n);
    await b.check();
    expect(b.current('intermediate')!.crlNumber).toBe(fromA.crlNumber);

    // A builder that claims a number and dies holds the lease until it runs out; the CRL is stale after that.
    const dead = { holder: 'a process that died', now: clock.now(), until: new Date(clock.now().getTime() + CRL_LEASE_MS) };
    const orphan = await ledger.claimCrlNumber('intermediate', dead);
    expect(orphan).toBe(fromA.crlNumber + 1n);
    expect((await ledger.crlState('intermediate', clock.now())).dirty).toBe(false);
    await expect(b.generate()).rejects.toBeInstanceOf(CrlBuildBusy);
    clock.advance(CRL_LEASE_MS);
    expect((await ledger.crlState('intermediate', clock.now())).dirty).toBe(true);
    await b.check();
    expect(b.current('intermediate')!.crlNumber).toBe(orphan! + 1n);
    expect((await ledger.crlState('intermediate', clock.now())).dirty).toBe(false);
    expect(crlText(path.join(dir, 'crl', 'intermediate.crl.pem'))).toContain(revoked.serial.toUpperCase());

    // A build that fails gives the lease back and leaves the CRL stale, for the next check to retry.
    const failing = new CrlPublisher({
      ledger,
      ca: Object.create(ca, { signCrl: { value: () => Promise.reject(new Error('the signing key is unavailable')) } }) as X509CertificateAuthority,
      clock,
      dir: path.join(dir, 'crl'),
      policy,
      log,
    });
    await expect(failing.generate()).rejects.toThrow('the signing key is unavailable');
    expect((await ledger.crlState('intermediate', clock.now())).dirty).toBe(true);
    expect((await b.generate()).crlNumber).toBe(orphan! + 3n);
  });

  it('builds a large CRL in worker threads (ledger read and DER encoding) that openssl verifies', async () => {
    const p = publisher();
    const serials: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const serial = `02${i.toString(16).padStart(30, '0')}`;
      serials.push(serial);
      await ledger.insertCertificate({
        serial, accountId: undefined, orderId: undefined, der: new Uint8Array([1]), chainPem: '', commonName: undefined,
        identifiers: [{ type: 'dns', value: `bulk${i}.crl.test` }], keyHash: serial,
        notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + 24 * HOUR), createdAt: clock.now(),
      });
      await ledger.revokeCertificate({ serial, reason: i % 2 ? 1 : 0, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    }
    const crl = await p.generate();
    const file = path.join(dir, 'large.crl');
    writeFileSync(file, crl.der);
    const r = spawnSync('openssl', ['crl', '-in', file, '-inform', 'DER', '-CAfile', path.join(dir, 'bundle.pem'), '-noout', '-text']);
    expect(`${r.stderr}`).toContain('verify OK');
    const text = `${r.stdout}`;
    for (const serial of [serials[0]!, serials[1500]!, serials[2999]!]) expect(text).toContain(serial.toUpperCase());
    expect(text.match(/Serial Number:/g)!.length).toBeGreaterThanOrEqual(3000);
    expect(text.match(/Key Compromise/g)!.length).toBeGreaterThanOrEqual(1500);
  });

  it('never lets a reader of the CRL files see one half-written, while CRLs of thousands of entries are published back to back', async () => {
    // Runs after the large CRL above: each CRL is ~100 kB of DER and ~140 kB of PEM. The reader is
    // another process (a web server or sidecar serving dataDir/crl), reading in a tight loop.
    const p = publisher();
    await p.generate();
    const der = path.join(dir, 'crl', 'intermediate.crl');
    const pem = `${der}.pem`;
    const stop = path.join(dir, 'stop-reader');
    const reader = spawn(process.execPath, ['-e', HALF_WRITTEN_CRL_READER, der, pem, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const result = new Promise<{ reads: number; bad: string[] }>((resolve) => reader.once('exit', () => resolve(JSON.parse(out.slice(out.indexOf('\n') + 1)))));
    await expect.poll(() => out.startsWith('reading'), { timeout: 10_000 }).toBe(true);
    let last: bigint | undefined;
    for (let i = 0; i < 6; i++) last = (await p.generate()).crlNumber;
    writeFileSync(stop, '');
    const { reads, bad } = await result;
    expect(bad).toEqual([]);
    expect(reads).toBeGreaterThan(100);
    // And the files hold the last one.
    expect(Buffer.from(readFileSync(der)).equals(Buffer.from(p.current('intermediate')!.der))).toBe(true);
    expect(p.current('intermediate')!.crlNumber).toBe(last);
    console.log(`CRL files: ${reads} reads by another process during 6 publications, none half-written`);
  });

  it('publishes a revocation committed while a build was in flight, when the check behind it runs', async () => {
    const server = publisher();
    await server.check();
    const revoked = await leaf('late.crl.test');
    // A build claims its number (clearing the stale mark) and reads the revoked list...
    const building = server.generate();
    // ...while a revocation commits and asks for a refresh, which finds that build in flight.
    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await server.check();
    await building;
    const listed = crlText(path.join(dir, 'crl', 'intermediate.crl.pem'));
    expect(listed).toContain(revoked.serial.toUpperCase());
  });

  it("the root's CRL lists a revoked subordinate CA at the next check (its stale mark), until the subordinate expires", async () => {
    const p = publisher();
    await p.check();
    const before = p.current('root')!.crlNumber;
    const serial = '01c0ffee';
    await ledger.subordinates.recordSubordinate({
      serial, label: 'vault', kind: 'subordinate', rootGeneration: 1, subject: 'CN=Vault', notBefore: clock.now(),
      notAfter: new Date(clock.now().getTime() + 20 * 24 * HOUR), der: new Uint8Array([0x30, 0]), pem: '', constraints: { permitted: [], excluded: [] },
      keyHash: 'k-vault', createdAt: clock.now(), actor: 'test',
    });
    await p.check();
    expect(p.current('root')!.crlNumber).toBe(before); // issuing one changes nothing
    await ledger.subordinates.revokeSubordinate({ serial, reason: 1, revokedAt: clock.now(), actor: 'test' });
    await p.check();
    expect(p.current('root')!.crlNumber).toBe(before + 1n);
    const pemFile = path.join(dir, 'crl', 'root.crl.pem');
    expect(crlText(pemFile)).toContain(serial.toUpperCase());
    expect(crlText(pemFile)).toContain('Key Compromise');
    // The root's CRL is renewed at half its validity (15 days), then past the subordinate's notAfter (20 days).
    clock.advance(21 * 24 * HOUR);
    await p.check();
    expect(crlText(pemFile)).not.toContain(serial.toUpperCase());
  });

  it('shares one build between concurrent requests', async () => {
    const p = publisher();
    const [a, b] = await Promise.all([p.generate(), p.generate()]);
    expect(a).toBe(b);
  });
});
