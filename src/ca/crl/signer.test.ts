import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, type CaOptions } from '../ca-files.js';
import { crlNumberOf, describeCrl } from './info.js';
import { newSerialHex } from '../serial.js';
import type { CaKeyAlgorithm, CrlRequest, RevokedEntry } from '../types.js';
import type { X509CertificateAuthority } from '../x509-authority.js';
import { issueTestLeaf, opensslStatus, useScratchDir } from '../../../test/support/ca-scratch.js';
import { pemOf } from '../../../test/support/pem.js';

const scratch = useScratchDir('crl');
const { write } = scratch;

/** How openssl prints an ASN.1 time: "Jan  2 03:04:05 2030 GMT". */
function opensslTime(date: Date): string {
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const time = date.toISOString().slice(11, 19);
  return `${month} ${String(date.getUTCDate()).padStart(2, ' ')} ${time} ${date.getUTCFullYear()} GMT`;
}

function skiOf(certPath: string): string {
  const text = opensslStatus(['x509', '-in', certPath, '-noout', '-text']).out;
  const ski = /Subject Key Identifier: ?\n\s+([0-9A-F:]+)\n/.exec(text)?.[1];
  if (ski === undefined) throw new Error(`no SKI in ${certPath}`);
  return ski;
}

/** The "Serial Number:" blocks of `openssl crl -text`, by upper-case serial. */
function revokedBlocks(text: string): Map<string, string> {
  const list = text.slice(text.indexOf('Revoked Certificates:'), text.lastIndexOf('Signature Algorithm:'));
  return new Map(list.split('Serial Number: ').slice(1).map((block) => [block.slice(0, block.indexOf('\n')), block]));
}

interface TestCa {
  readonly ca: X509CertificateAuthority;
  readonly options: CaOptions;
  readonly rootPem: string;
  readonly chainPem: string;
  /** root + intermediate, what `openssl crl -CAfile` needs to check an intermediate-signed CRL. */
  readonly bundlePem: string;
}

async function newCa(keyAlgorithm: CaKeyAlgorithm): Promise<TestCa> {
  const options: CaOptions = {
    dir: join(scratch.dir, `ca-${newSerialHex()}`),
    name: 'certmint test',
    keyAlgorithm,
    crlUrl: 'http://certmint.test/crl',
    caIssuersUrl: 'http://certmint.test/intermediate.der',
  };
  const ca = await initCa(options);
  return {
    ca,
    options,
    rootPem: join(options.dir, 'root.pem'),
    chainPem: join(options.dir, 'intermediate.pem'),
    bundlePem: await write('bundle.pem', ca.rootsPem + ca.chainPem),
  };
}

/** Issues a leaf the way finalize does and writes it as PEM. */
async function issue(t: TestCa, serialHex = newSerialHex()): Promise<{ serialHex: string; path: string }> {
  const leaf = await issueTestLeaf(t.ca, { serialHex });
  return { serialHex: leaf.serialHex, path: await write('leaf.pem', pemOf(leaf.der, 'CERTIFICATE')) };
}

function crlRequest(entries: RevokedEntry[], crlNumber = 42n): CrlRequest {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return { crlNumber, thisUpdate: new Date(now - 60_000), nextUpdate: new Date(now + 7 * 86_400_000), entries };
}

const KEY_COMPROMISE = 1;
const CA_COMPROMISE = 2;
const SUPERSEDED = 4;

describe.each<[CaKeyAlgorithm, string]>([
  ['ecdsa-p256', 'ecdsa-with-SHA256'],
  ['ecdsa-p384', 'ecdsa-with-SHA384'],
  ['rsa-2048', 'sha256WithRSAEncryption'],
])('CRLs of a %s CA', (keyAlgorithm, signatureAlgorithm) => {
  let t: TestCa;
  beforeAll(async () => {
    t = await newCa(keyAlgorithm);
  });

  it('crlNumberOf reads the number as the full parse does, and of a CRL too large for the full parse', async () => {
    for (const crlNumber of [1n, 255n, 2n ** 70n]) {
      const der = await t.ca.signCrl({ ...crlRequest([{ serialHex: '01aa55', revokedAt: new Date(), reason: 1 }]), crlNumber });
      expect(crlNumberOf(der)).toBe(crlNumber);
      expect(describeCrl(der).crlNumber).toBe(crlNumber);
    }
    const entries = Array.from({ length: 30_000 }, () => ({ serialHex: newSerialHex(), revokedAt: new Date(), reason: 4 }));
    const large = await t.ca.signCrl({ ...crlRequest(entries), crlNumber: 42n });
    expect(() => describeCrl(large)).toThrow(/node count/);
    expect(crlNumberOf(large)).toBe(42n);
  });

  it('the intermediate signs a leaf CRL that openssl verifies and reads back as asked', async () => {
    const revokedAt = new Date('2031-03-04T05:06:07.890Z');
    const request = crlRequest([
      { serialHex: '01aa55', revokedAt, reason: KEY_COMPROMISE },
      { serialHex: '01bb66', revokedAt, reason: 0 },
      { serialHex: 'f0cc77', revokedAt, reason: SUPERSEDED },
    ]);
    const der = await t.ca.signCrl(request);
    const path = await write('crl.der', der);

    const checked = opensslStatus(['crl', '-in', path, '-inform', 'DER', '-CAfile', t.bundlePem, '-noout']);
    expect(checked.out).toContain('verify OK');
    expect(checked.status).toBe(0);

    const text = opensslStatus(['crl', '-in', path, '-inform', 'DER', '-noout', '-text']).out;
    expect(text).toContain('Version 2 (0x1)');
    expect(text).toContain(`Signature Algorithm: ${signatureAlgorithm}`);
    expect(text).toContain('Issuer: O = certmint test, CN = certmint test Intermediate CA');
    expect(text).toContain(`Last Update: ${opensslTime(request.thisUpdate)}\n`);
    expect(text).toContain(`Next Update: ${opensslTime(request.nextUpdate)}\n`);
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier: ?\\n\\s+(keyid:)?${skiOf(t.chainPem)}\\n`));
    expect(text).toMatch(/X509v3 CRL Number: ?\n\s+42\n/);
    const blocks = revokedBlocks(text);
    expect([...blocks.keys()]).toEqual(['01AA55', '01BB66', 'F0CC77']);
    for (const block of blocks.values()) expect(block).toContain('Revocation Date: Mar  4 05:06:07 2031 GMT\n');
    expect(blocks.get('01AA55')).toMatch(/X509v3 CRL Reason Code: ?\n\s+Key Compromise\n/);
    // RFC 5280 §5.3.1: unspecified is written as no reasonCode at all.
    expect(blocks.get('01BB66')).not.toContain('CRL entry extensions');
    expect(blocks.get('F0CC77')).toMatch(/X509v3 CRL Reason Code: ?\n\s+Superseded\n/);
  });

  it('makes openssl verify -crl_check refuse a revoked leaf and accept one not on the CRL', async () => {
    const revoked = await issue(t);
    // Issued with the sign byte DER needs, listed without it: the CRL encoder adds it back.
    const highBit = await issue(t, `00f1${newSerialHex().slice(4)}`);
    const good = await issue(t);
    const crl = await t.ca.signCrl(
      crlRequest([
        { serialHex: revoked.serialHex, revokedAt: new Date(), reason: KEY_COMPROMISE },
        { serialHex: highBit.serialHex.slice(2), revokedAt: new Date(), reason: 0 },
      ]),
    );
    const crlPem = await write('crl.pem', pemOf(crl, 'X509 CRL'));
    const verify = (leaf: string) =>
      opensslStatus(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', t.rootPem, '-untrusted', t.chainPem, leaf]);

    for (const leaf of [revoked, highBit]) {
      const result = verify(leaf.path);
      expect(result.out).toContain('certificate revoked');
      expect(result.status).not.toBe(0);
    }
    const ok = verify(good.path);
    expect(ok.out).toContain(': OK');
    expect(ok.status).toBe(0);
  });

  it('the root (kept by loadCa) signs the intermediates CRL, empty or listing the intermediate', async () => {
    const loaded = await loadCa(t.options);
    const leaf = await issue(t);
    const leafCrl = pemOf(await loaded.signCrl(crlRequest([])), 'X509 CRL');

    const empty = await loaded.signIntermediateCrl(crlRequest([], 7n));
    const emptyPath = await write('root-crl.der', empty);
    expect(opensslStatus(['crl', '-in', emptyPath, '-inform', 'DER', '-CAfile', t.rootPem, '-noout']).out).toContain('verify OK');
    const text = opensslStatus(['crl', '-in', emptyPath, '-inform', 'DER', '-noout', '-text']).out;
    expect(text).toContain('Issuer: O = certmint test, CN = certmint test Root CA');
    expect(text).toContain(`Signature Algorithm: ${signatureAlgorithm}`);
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier: ?\\n\\s+(keyid:)?${skiOf(t.rootPem)}\\n`));
    expect(text).toMatch(/X509v3 CRL Number: ?\n\s+7\n/);
    expect(text).toContain('No Revoked Certificates.');
    // The intermediate cannot pass for the root: its CRL does not verify against the intermediate.
    expect(opensslStatus(['crl', '-in', emptyPath, '-inform', 'DER', '-CAfile', t.chainPem, '-noout']).out).not.toContain('verify OK');

    // -crl_check_all needs a CRL for every CA in the path: the root's covers the intermediate.
    const verifyAll = async (rootCrl: Uint8Array) =>
      opensslStatus([
        'verify', '-crl_check_all', '-CRLfile', await write('crls.pem', leafCrl + pemOf(rootCrl, 'X509 CRL')),
        '-CAfile', t.rootPem, '-untrusted', t.chainPem, leaf.path,
      ]);
    expect((await verifyAll(empty)).out).toContain(': OK');
    const intermediateSerial = loaded.intermediateCertificate.serialNumber.toLowerCase();
    const listing = await loaded.signIntermediateCrl(
      crlRequest([{ serialHex: intermediateSerial, revokedAt: new Date(), reason: CA_COMPROMISE }], 8n),
    );
    const revoked = await verifyAll(listing);
    expect(revoked.out).toMatch(/error 23 at 1 depth lookup: certificate revoked/);
    expect(revoked.status).not.toBe(0);
    expect(revokedBlocks(opensslStatus(['crl', '-in', await write('c.der', listing), '-inform', 'DER', '-noout', '-text']).out).get(
      intermediateSerial.toUpperCase(),
    )).toMatch(/CA Compromise\n/);
  });
});

describe('CRL times', () => {
  it('are UTCTime through 2049 and GeneralizedTime from 2050, and openssl reads both', async () => {
    const t = await newCa('ecdsa-p256');
    const request: CrlRequest = {
      crlNumber: 1n,
      thisUpdate: new Date('2049-12-31T23:59:59Z'),
      nextUpdate: new Date('2050-01-07T00:00:00Z'),
      entries: [
        { serialHex: '01', revokedAt: new Date('2049-12-31T23:59:59.999Z'), reason: 0 },
        { serialHex: '02', revokedAt: new Date('2050-01-01T00:00:00Z'), reason: 0 },
      ],
    };
    const path = await write('crl.der', await t.ca.signCrl(request));
    expect(opensslStatus(['crl', '-in', path, '-inform', 'DER', '-CAfile', t.bundlePem, '-noout']).out).toContain('verify OK');
    const text = opensslStatus(['crl', '-in', path, '-inform', 'DER', '-noout', '-text']).out;
    expect(text).toContain('Last Update: Dec 31 23:59:59 2049 GMT\n');
    expect(text).toContain('Next Update: Jan  7 00:00:00 2050 GMT\n');
    const blocks = revokedBlocks(text);
    expect(blocks.get('01')).toContain('Revocation Date: Dec 31 23:59:59 2049 GMT');
    expect(blocks.get('02')).toContain('Revocation Date: Jan  1 00:00:00 2050 GMT');
    const asn1 = opensslStatus(['asn1parse', '-inform', 'DER', '-in', path]).out;
    expect(asn1.match(/(UTCTIME|GENERALIZEDTIME) +:\d+Z/g)).toEqual([
      'UTCTIME           :491231235959Z',
      'GENERALIZEDTIME   :20500107000000Z',
      'UTCTIME           :491231235959Z',
      'GENERALIZEDTIME   :20500101000000Z',
    ]);
  });
});

describe('a CRL of 100,000 certificates', () => {
  it('is built and signed quickly (printed, not asserted) and openssl verifies it', async () => {
    const t = await newCa('ecdsa-p256');
    const count = 100_000;
    const since = Date.now() - 90 * 86_400_000;
    const reasons = [0, 1, 4, 5, 0, 3];
    const entries: RevokedEntry[] = Array.from({ length: count }, (_, i) => ({
      serialHex: newSerialHex(),
      revokedAt: new Date(since + i * 60_000),
      reason: reasons[i % reasons.length] ?? 0,
    }));
    await t.ca.signCrl(crlRequest(entries.slice(0, 100))); // warm up
    const start = performance.now();
    const der = await t.ca.signCrl(crlRequest(entries));
    const ms = performance.now() - start;
    console.log(
      `signCrl, ECDSA P-256 intermediate, ${count.toLocaleString('en-US')} entries: ${ms.toFixed(0)} ms, ` +
        `${(der.length / 1e6).toFixed(2)} MB DER (${(der.length / count).toFixed(1)} bytes per entry)`,
    );
    const path = await write('big.der', der);
    expect(opensslStatus(['crl', '-in', path, '-inform', 'DER', '-CAfile', t.bundlePem, '-noout']).out).toContain('verify OK');
    const text = opensslStatus(['crl', '-in', path, '-inform', 'DER', '-noout', '-text']).out;
    expect(text.match(/Serial Number: /g)?.length).toBe(count);
    expect(text).toContain(`Serial Number: ${entries[count - 1]?.serialHex.toUpperCase()}\n`);
  });
});
