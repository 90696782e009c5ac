import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsrParseError, parseCsr } from './csr.js';

let dir: string;

/** Makes a DER CSR with `openssl req`, the way a user would. */
async function opensslCsr(name: string, keyArgs: string[], subject: string, san?: string): Promise<Uint8Array> {
  const out = join(dir, `${name}.csr.der`);
  execFileSync('openssl', [
    'req', '-new', '-nodes', ...keyArgs, '-keyout', join(dir, `${name}.key.pem`),
    '-subj', subject, ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-outform', 'DER', '-out', out,
  ], { stdio: 'pipe' });
  return new Uint8Array(await readFile(out));
}

const RSA = ['-newkey', 'rsa:2048'];
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const P384 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'];
const P521 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'];
const ED25519 = ['-newkey', 'ed25519'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certmint-csr-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseCsr', () => {
  it('reads an RSA 2048 request with a CN and DNS SANs', async () => {
    const der = await opensslCsr('rsa', RSA, '/CN=rsa.example', 'DNS:rsa.example,DNS:WWW.rsa.example');
    const csr = await parseCsr(der);
    expect(csr.signatureValid).toBe(true);
    expect(csr.key).toEqual({ kind: 'rsa', bits: 2048, exponent: 65537n });
    expect(csr.commonName).toBe('rsa.example');
    // As written: case is policy's business, not the parser's.
    expect(csr.sans).toEqual([
      { type: 'dns', value: 'rsa.example' },
      { type: 'dns', value: 'WWW.rsa.example' },
    ]);
    expect(csr.unsupportedSans).toEqual([]);
    expect(csr.der).toBe(der);
    const spkiFromOpenssl = execFileSync('openssl', ['req', '-inform', 'DER', '-in', join(dir, 'rsa.csr.der'), '-pubkey', '-noout']);
    expect(Buffer.from(csr.spki).toString('base64')).toBe(pemBody(spkiFromOpenssl.toString()));
  });

  it.each([
    ['P-256', P256],
    ['P-384', P384],
    ['P-521', P521],
  ])('reads an ECDSA %s request', async (curve, keyArgs) => {
    const csr = await parseCsr(await opensslCsr(curve, keyArgs, '/CN=ec.example', 'DNS:ec.example'));
    expect(csr.signatureValid).toBe(true);
    expect(csr.key).toEqual({ kind: 'ec', curve });
  });

  it('names a curve it does not know by its OID', async () => {
    const csr = await parseCsr(
      await opensslCsr('k256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], '/', 'DNS:k.example'),
    );
    expect(csr.key).toEqual({ kind: 'ec', curve: '1.3.132.0.10' });
  });

  it('reads an Ed25519 request without a CN', async () => {
    const csr = await parseCsr(await opensslCsr('ed', ED25519, '/', 'DNS:ed.example'));
    expect(csr.signatureValid).toBe(true);
    expect(csr.key).toEqual({ kind: 'ed25519' });
    expect(csr.commonName).toBeUndefined();
    expect(csr.sans).toEqual([{ type: 'dns', value: 'ed.example' }]);
  });

  it('gives IP SANs in canonical text and lists SAN types it does not certify', async () => {
    const der = await opensslCsr(
      'ip', P256, '/',
      'IP:192.0.2.10,IP:2001:DB8:0:0:0:0:0:1,IP:::ffff:192.0.2.1,DNS:host.example,email:ops@example.com,URI:https://example.com/',
    );
    const csr = await parseCsr(der);
    expect(csr.signatureValid).toBe(true);
    expect(csr.sans).toEqual([
      { type: 'ip', value: '192.0.2.10' },
      { type: 'ip', value: '2001:db8::1' },
      { type: 'ip', value: '::ffff:c000:201' },
      { type: 'dns', value: 'host.example' },
    ]);
    expect(csr.unsupportedSans).toEqual(['email:ops@example.com', 'url:https://example.com/']);
  });

  it('reads a request with no SAN extension at all', async () => {
    const csr = await parseCsr(await opensslCsr('nosan', P256, '/CN=only-cn.example'));
    expect(csr.commonName).toBe('only-cn.example');
    expect(csr.sans).toEqual([]);
  });

  it.each([
    ['RSA', RSA],
    ['P-256', P256],
    ['Ed25519', ED25519],
  ])('reports a tampered %s signature as invalid', async (name, keyArgs) => {
    const der = await opensslCsr(`tamper-${name}`, keyArgs, '/CN=t.example', 'DNS:t.example');
    const tampered = new Uint8Array(der);
    // The signature BIT STRING is the last element, so the last byte is signature.
    tampered[tampered.length - 1]! ^= 0x01;
    const csr = await parseCsr(tampered);
    expect(csr.signatureValid).toBe(false);
    expect(csr.key.kind).not.toBe('other');
  });

  it('reports a changed request body (signature over other bytes) as invalid', async () => {
    const der = await opensslCsr('body', P256, '/CN=aaaa.example', 'DNS:aaaa.example');
    const text = Buffer.from(der);
    const at = text.indexOf('aaaa.example');
    text.write('bbbb', at, 'latin1');
    const csr = await parseCsr(new Uint8Array(text));
    expect(csr.commonName).toBe('bbbb.example');
    expect(csr.signatureValid).toBe(false);
  });

  it('throws CsrParseError on garbage, PEM text, truncated and trailing bytes, and a certificate', async () => {
    const der = await opensslCsr('good', P256, '/CN=g.example', 'DNS:g.example');
    const pem = execFileSync('openssl', ['req', '-inform', 'DER', '-in', join(dir, 'good.csr.der')]);
    const withTrailing = new Uint8Array([...der, 0, 0]);
    execFileSync('openssl', [
      'req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-keyout', join(dir, 'self.key'), '-subj', '/CN=self', '-outform', 'DER', '-out', join(dir, 'self.der'),
    ], { stdio: 'pipe' });
    const cert = new Uint8Array(await readFile(join(dir, 'self.der')));
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3, 4, 5]),
      new Uint8Array(pem),
      der.subarray(0, der.length - 10),
      withTrailing,
      cert,
      new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
    ];
    for (const input of cases) {
      await expect(parseCsr(input)).rejects.toBeInstanceOf(CsrParseError);
    }
    await expect(parseCsr(new Uint8Array(pem))).rejects.toThrow(/PEM or base64 instead of DER/);
    await expect(parseCsr(withTrailing)).rejects.toThrow(/DER length says/);
  });
});

function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}
