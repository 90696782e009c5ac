import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCsr, type CsrKeyKind } from '../../test/support/csr.js';
import { readCommonCsr } from './csr-common.js';
import { parseCsr, parseCsrFully } from './csr.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A request as `openssl req` writes it (what certbot's and many scripts' CSRs look like). */
function opensslCsr(keyArgs: string[], subject: string, san: string | undefined, digest = '-sha256'): Uint8Array {
  const key = path.join(dir, `key-${Math.random()}.pem`);
  const out = path.join(dir, `csr-${Math.random()}.der`);
  execFileSync('openssl', ['genpkey', ...keyArgs, '-out', key], { stdio: 'pipe' });
  const args = ['req', '-new', '-key', key, '-subj', subject, '-outform', 'DER', '-out', out, ...(digest ? [digest] : [])];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  execFileSync('openssl', args, { stdio: 'pipe' });
  return new Uint8Array(readFileSync(out));
}

const flipLastByte = (der: Uint8Array) => {
  const copy = Uint8Array.from(der);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
};

describe('the fast CSR path', () => {
  const common: [string, () => Promise<Uint8Array> | Uint8Array][] = [
    ...(['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as CsrKeyKind[]).map(
      (kind) => [`@peculiar/x509 ${kind}`, async () => (await makeCsr(['a.example', 'b.example'], { kind })).der] as [string, () => Promise<Uint8Array>],
    ),
    ['openssl EC with IPv4 and IPv6 SANs', () => opensslCsr(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=a.example', 'DNS:a.example,IP:192.0.2.1,IP:2001:db8::1')],
    ['openssl RSA, SHA-384, a subject with O and CN', () => opensslCsr(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], '/O=Example/CN=a.example', 'DNS:a.example', '-sha384')],
    ['openssl Ed25519 without a CN', () => opensslCsr(['-algorithm', 'ED25519'], '/O=Example', 'DNS:a.example', '')],
    ['no SAN at all', () => opensslCsr(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=a.example', undefined)],
    ['a wildcard CN (UTF8String)', () => opensslCsr(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=*.a.example', 'DNS:*.a.example')],
  ];

  it.each(common)('reads %s as the full parser does, and a broken signature as broken', async (_what, make) => {
    const der = await make();
    expect(readCommonCsr(der)).toBeDefined();
    expect(await parseCsr(der)).toEqual(await parseCsrFully(der));
    expect((await parseCsr(der)).signatureValid).toBe(true);
    const broken = flipLastByte(der);
    expect(readCommonCsr(broken)?.signatureValid).toBe(false);
    expect((await parseCsrFully(broken)).signatureValid).toBe(false);
  });

  it.each([
    ['an email SAN', () => opensslCsr(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=a.example', 'DNS:a.example,email:a@example.com')],
    ['two CNs', () => opensslCsr(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=a.example/CN=b.example', 'DNS:a.example')],
    ['a SHA-1 signature', () => opensslCsr(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], '/CN=a.example', 'DNS:a.example', '-sha1')],
    ['a SEQUENCE that is no request (one INTEGER)', () => Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00])],
  ])('leaves %s to the full parser, which gives the answer it always gave', async (_what, make) => {
    const der = make();
    expect(readCommonCsr(der)).toBeUndefined();
    const viaParseCsr = await parseCsr(der).then((r) => r, (e: Error) => e.message);
    const viaFull = await parseCsrFully(der).then((r) => r, (e: Error) => e.message);
    expect(viaParseCsr).toEqual(viaFull);
  });

  it('never throws anything but a decline on a truncated request', async () => {
    const der = await makeCsr(['a.example']).then((c) => c.der);
    for (let cut = 0; cut < der.length; cut++) {
      const part = der.subarray(0, cut);
      expect(() => readCommonCsr(part)).not.toThrow();
    }
  });
});
