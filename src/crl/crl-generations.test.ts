import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, type CaOptions } from '../ca/ca-files.js';
import { rotateIntermediate } from '../ca/rotation.js';
import { describeCrl } from '../ca/crl/info.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { ManualClock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { CrlPublisher, type CrlPolicy } from './crl-publisher.js';
import { issueRecordedLeaf } from '../../test/support/recorded-leaf.js';
import { checkCapturedLog } from '../../test/support/secret-scan.js';
import { capturedLogger } from '../../test/support/suite-log.js';

// After certmint ca rotate-intermediate: one CRL per intermediate generation, each signed by its
// own intermediate, the old one refreshed until the last certificate it signed expires.
const HOUR = 3_600_000;
const policy: CrlPolicy = { validityMs: 24 * HOUR, refreshMs: HOUR, rootValidityMs: 30 * 24 * HOUR, checkIntervalMs: 60_000 };
// Logged as certmint serve logs, scanned for this CA's keys in afterAll and with the whole run.
const captured = capturedLogger('crl-generations.test');
const log = captured.log;
const clock = new ManualClock(new Date());
let dir: string;
let ledger: SqliteLedger;
let options: CaOptions;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-crl-gen-'));
  options = { dir: path.join(dir, 'ca'), name: 'gen test', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/intermediate.der', crypto: nativeCryptoProvider(), clock };
  await initCa(options);
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3'), now: () => clock.now().getTime() });
});
afterAll(async () => {
  await ledger.close();
  try {
    await checkCapturedLog(captured, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const leaf = (ca: X509CertificateAuthority, name: string, lifetimeMs: number) => issueRecordedLeaf({ ca, ledger, clock, dir }, name, lifetimeMs);

const crlFile = (issuer: string) => path.join(dir, 'crl', `${issuer}.crl.pem`);
const crlSerials = (issuer: string) =>
  [...execFileSync('openssl', ['crl', '-in', crlFile(issuer), '-noout', '-text']).toString().matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => BigInt(`0x${m[1]!}`));

function verifyWithCrl(l: { file: string; chain: string }, issuer: string): string {
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CRLfile', crlFile(issuer), '-CAfile', path.join(dir, 'ca', 'root.pem'), '-untrusted', l.chain, l.file]);
  return `${r.stdout}${r.stderr}`;
}

describe('CrlPublisher with two intermediate generations', () => {
  it('publishes a CRL per generation, lists a revocation only in its generation, and stops refreshing a retired one after its last leaf expires', async () => {
    const old = await leaf(await loadCa(options), 'old.example', 3 * HOUR);
    await rotateIntermediate(options);
    const ca = await loadCa(options);
    const fresh = await leaf(ca, 'new.example', 24 * HOUR);
    const publisher = () => new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl'), policy, log });
    const p = publisher();
    await p.check();
    expect(describeCrl(p.current('intermediate')!.der).issuer).toBe(ca.generations[0]!.subject);
    expect(describeCrl(p.current('intermediate-2')!.der).issuer).toBe(ca.generations[1]!.subject);
    for (const f of ['intermediate.crl', 'intermediate-2.crl', 'root.crl']) expect(existsSync(path.join(dir, 'crl', f))).toBe(true);
    expect(verifyWithCrl(old, 'intermediate')).toContain(': OK');
    expect(verifyWithCrl(fresh, 'intermediate-2')).toContain(': OK');

    await ledger.revokeCertificate({ serial: old.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await p.check();
    expect(crlSerials('intermediate')).toEqual([BigInt(`0x${old.serial}`)]);
    expect(crlSerials('intermediate-2')).toEqual([]);
    expect(verifyWithCrl(old, 'intermediate')).toContain('certificate revoked');
    expect(verifyWithCrl(fresh, 'intermediate-2')).toContain(': OK');

    // Both are refreshed while generation 1 still has an unexpired certificate…
    const numbers = () => ['intermediate', 'intermediate-2'].map((i) => p.current(i as 'intermediate')!.crlNumber);
    const [one, two] = numbers();
    clock.advance(HOUR + 1000);
    await p.check();
    expect(numbers()).toEqual([one! + 1n, two! + 1n]);
    // …and once it has none, only the active generation's is.
    clock.advance(2 * HOUR);
    await p.check();
    expect(numbers()).toEqual([one! + 1n, two! + 2n]);
    // A restarted server serves generation 1's last CRL from the ledger without signing a new one.
    const restarted = publisher();
    await restarted.check();
    expect(restarted.current('intermediate')!.crlNumber).toBe(one! + 1n);
    expect(Buffer.from(restarted.current('intermediate')!.der).equals(Buffer.from(p.current('intermediate')!.der))).toBe(true);
  });
});
