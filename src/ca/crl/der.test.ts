// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import {
  crlIssuerDer,
  derBigInteger,
  derLength,
  derOid,
  derSerial,
  derTime,
  ecdsaSignatureToDer,
  encodeTbsCertList,
} from './der.js';
import type { CrlRequest, RevokedEntry } from '../types.js';
import { openssl, useScratchDir } from '../../../test/support/ca-scratch.js';

const { write } = useScratchDir('crl-der');

/** `openssl asn1parse` of DER: what a user runs to see what was encoded. */
async function asn1parse(der: Uint8Array): Promise<string> {
  return openssl(['asn1parse', '-inform', 'DER', '-in', await write('asn1.der', der)]);
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const issuer = crlIssuerDer(
  new Uint8Array(new x509.Name('O=certmint test, CN=certmint test Intermediate CA').toArrayBuffer()),
  Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex'),
  'ecdsa-p256',
);
const day = (iso: string) => new Date(iso);
function request(extra: Partial<CrlRequest & { entries: readonly RevokedEntry[] }> = {}): CrlRequest & { entries: readonly RevokedEntry[] } {
  return { crlNumber: 7n, thisUpdate: day('2030-01-01T00:00:00Z'), nextUpdate: day('2030-01-08T00:00:00Z'), entries: [], ...extra };
}

describe('DER primitives', () => {
  it('writes short and long lengths (X.690 §8.1.3)', () => {
    expect(hex(derLength(0))).toBe('00');
    expect(hex(derLength(127))).toBe('7f');
    expect(hex(derLength(128))).toBe('8180');
    expect(hex(derLength(255))).toBe('81ff');
    expect(hex(derLength(256))).toBe('820100');
    expect(hex(derLength(5_600_000))).toBe('83557300');
  });

  it('writes OIDs in base 128', () => {
    expect(hex(derOid('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(derOid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(derOid('2.5.29.20'))).toBe('0603551d14');
  });

  it('writes CRL numbers as minimal positive INTEGERs', () => {
    expect(hex(derBigInteger(0n))).toBe('020100');
    expect(hex(derBigInteger(127n))).toBe('02017f');
    expect(hex(derBigInteger(128n))).toBe('02020080');
    expect(hex(derBigInteger(2n ** 64n))).toBe('0209010000000000000000');
    expect(() => derBigInteger(-1n)).toThrow(/negative/);
  });

  it('puts a 00 sign byte before a serial whose first byte is 0x80 or more, and refuses what no certificate has', () => {
    const content = (serial: string) => hex(derSerial(serial).subarray(2));
    expect(content('01ab')).toBe('01ab');
    expect(content('7f')).toBe('7f');
    expect(content('80')).toBe('0080');
    expect(content('ff01')).toBe('00ff01');
    expect(content('00ff01')).toBe('00ff01'); // as issueLeaf takes it
    expect(content('ff'.repeat(19))).toBe(`00${'ff'.repeat(19)}`);
    expect(hex(derSerial('01'.repeat(20)))).toBe(`0214${'01'.repeat(20)}`);
    for (const bad of ['', '0', '00', '0001', '007f', 'ABCD', 'abc', 'zz', '0g', 'g0', 'ff'.repeat(20), '01'.repeat(21)]) {
      expect(() => derSerial(bad), bad).toThrow(/not the lower-case hex of a positive integer/);
    }
  });

  it('uses UTCTime through 2049 and GeneralizedTime from 2050, whole seconds (RFC 5280 §5.1.2.4)', () => {
    const ascii = (der: Uint8Array) => Buffer.from(der.subarray(2)).toString('latin1');
    const last = derTime(day('2049-12-31T23:59:59.999Z'));
    expect(last[0]).toBe(0x17);
    expect(ascii(last)).toBe('491231235959Z');
    const first = derTime(day('2050-01-01T00:00:00Z'));
    expect(first[0]).toBe(0x18);
    expect(ascii(first)).toBe('20500101000000Z');
    expect(ascii(derTime(day('1950-01-01T00:00:00Z')))).toBe('500101000000Z');
    expect(ascii(derTime(day('1949-12-31T23:59:59Z')))).toBe('19491231235959Z');
    expect(() => derTime(new Date(NaN))).toThrow(/not a date/);
  });

  it('turns a P1363 ECDSA signature into an Ecdsa-Sig-Value that verifies', () => {
    for (const curve of ['P-256', 'P-384']) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      // Enough signatures that some r or s has its high bit set and some start with a zero byte.
      for (let i = 0; i < 200; i++) {
        const message = Buffer.from(`message ${i}`);
        const p1363 = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = ecdsaSignatureToDer(p1363);
        expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      }
    }
    const half = (first: number) => Buffer.concat([Buffer.from([first]), Buffer.alloc(31, 1)]);
    const ones = '01'.repeat(31);
    // r with its high bit set gets a 00; s with a leading zero byte loses it.
    expect(hex(ecdsaSignatureToDer(Buffer.concat([half(0x80), half(0x00)])))).toBe(`3044022100${'80' + ones}021f${ones}`);
    // r = 0 is the one-byte INTEGER 0.
    expect(hex(ecdsaSignatureToDer(Buffer.concat([Buffer.alloc(32), half(0x7f)])))).toBe(`3025020100${'0220' + '7f' + ones}`);
    expect(() => ecdsaSignatureToDer(new Uint8Array(63))).toThrow(/not r \|\| s/);
  });
});

describe('encodeTbsCertList', () => {
  it('leaves revokedCertificates out when nothing is revoked (RFC 5280 §5.1.2.6)', async () => {
    const parsed = await asn1parse(encodeTbsCertList(issuer, request()));
    expect(parsed).toMatch(/d=1 +hl=2 l= +1 prim: INTEGER +:01\n/);
    expect(parsed).toContain('OBJECT            :ecdsa-with-SHA256');
    expect(parsed).toContain('UTCTIME           :300101000000Z');
    expect(parsed).toContain('UTCTIME           :300108000000Z');
    // Straight from the issuer's name to the [0] extensions: no empty SEQUENCE between.
    expect(parsed).toMatch(/UTCTIME +:300108000000Z\n.*cont \[ 0 \]/);
    expect(parsed).toContain('X509v3 Authority Key Identifier');
    expect(parsed).toContain('[HEX DUMP]:3016801400112233445566778899AABBCCDDEEFF00112233');
    expect(parsed).toContain('X509v3 CRL Number');
    expect(parsed).toContain('[HEX DUMP]:020107');
  });

  it('writes each entry with its serial, date and a reasonCode only when there is a reason', async () => {
    const parsed = await asn1parse(
      encodeTbsCertList(issuer, request({
        entries: [
          { serialHex: '01aa', revokedAt: day('2029-12-30T10:11:12Z'), reason: 1 },
          { serialHex: 'ffee', revokedAt: day('2029-12-31T10:11:12Z'), reason: 0 },
          { serialHex: '00ffdd', revokedAt: day('2050-06-01T00:00:00Z'), reason: 10 },
        ],
      })),
    );
    const entries = parsed.slice(parsed.indexOf('INTEGER           :01AA'), parsed.indexOf('cont [ 0 ]'));
    expect(entries).toMatch(
      /INTEGER +:01AA\n.*UTCTIME +:291230101112Z\n.*SEQUENCE.*\n.*SEQUENCE.*\n.*OBJECT +:X509v3 CRL Reason Code\n.*OCTET STRING +\[HEX DUMP\]:0A0101\n/,
    );
    // 'ffee' needs its sign byte: 3 content octets; no extensions at all for reason 0.
    expect(entries).toMatch(/d=2 +hl=2 l= +20 cons: SEQUENCE *\n.*l= +3 prim: INTEGER +:FFEE\n.*UTCTIME +:291231101112Z\n.*d=2 /);
    expect(entries).toMatch(/INTEGER +:FFDD\n.*GENERALIZEDTIME +:20500601000000Z\n(.*\n){3}.*\[HEX DUMP\]:0A010A\n/);
  });

  it('refuses what would make a bad CRL', () => {
    const entry = { serialHex: '01aa', revokedAt: day('2029-12-30T00:00:00Z'), reason: 1 };
    expect(() => encodeTbsCertList(issuer, request({ nextUpdate: day('2030-01-01T00:00:00Z') }))).toThrow(/not after thisUpdate/);
    expect(() => encodeTbsCertList(issuer, request({ crlNumber: 2n ** 160n }))).toThrow(/longer than 20 octets/);
    expect(() => encodeTbsCertList(issuer, request({ crlNumber: 2n ** 159n - 1n }))).not.toThrow();
    for (const reason of [7, 11, -1, 1.5]) {
      expect(() => encodeTbsCertList(issuer, request({ entries: [{ ...entry, reason }] }))).toThrow(/not an RFC 5280 CRLReason/);
    }
    expect(() => encodeTbsCertList(issuer, request({ entries: [{ ...entry, serialHex: '01AA' }] }))).toThrow(/serial "01AA"/);
    expect(() => encodeTbsCertList(issuer, request({ entries: [{ ...entry, revokedAt: new Date('x') }] }))).toThrow(
      /revocation date of 01aa/,
    );
  });
});
