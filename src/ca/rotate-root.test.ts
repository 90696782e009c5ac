// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaError, initCa, loadCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';

// certmint ca rotate-root: a new root, its cross certificate from the old one, and a new
// intermediate under the new root.
let base: string;
let n = 0;

function options(extra: Partial<CaOptions> = {}): CaOptions {
  n += 1;
  return { dir: join(base, `ca-${n}`), name: 'rr test', crlUrl: 'http://certmint.test/crl', caIssuersUrl: 'http://certmint.test/intermediate.der', ...extra };
}

const certOf = (pem: string) => new x509.X509Certificate(pem);
const readCert = async (dir: string, name: string) => certOf(await readFile(join(dir, name), 'utf8'));

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-rotate-root-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

describe('rotateRoot', () => {
  it('writes root 2 (key 0600), a cross certificate with the new name and key signed by root 1, and an active intermediate under root 2', async () => {
    const o = options();
    const first = await initCa(o);
    const { ca, rootGeneration, generation } = await rotateRoot(o);
    expect([rootGeneration, generation]).toEqual([2, 2]);
    expect((await stat(join(o.dir, 'root-2.key.pem'))).mode & 0o777).toBe(0o600);
    const [oldRoot, newRoot, cross] = await Promise.all(['root.pem', 'root-2.pem', 'root-2-cross.pem'].map((f) => readCert(o.dir, f)));
    expect(newRoot!.subject).toBe('O=rr test, CN=rr test Root CA R2');
    expect(await newRoot!.isSelfSigned()).toBe(true);

    expect(cross!.subject).toBe(newRoot!.subject);
    expect(cross!.issuer).toBe(oldRoot!.subject);
    expect(Buffer.from(cross!.publicKey.rawData).equals(Buffer.from(newRoot!.publicKey.rawData))).toBe(true);
    expect(await cross!.verify({ publicKey: oldRoot!.publicKey, signatureOnly: true })).toBe(true);
    const ski = (c: x509.X509Certificate) => c.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(ski(cross!)).toBe(ski(newRoot!));
    expect(cross!.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ski(oldRoot!));
    const constraints = cross!.getExtension(x509.BasicConstraintsExtension)!;
    expect([constraints.ca, constraints.critical]).toEqual([true, true]);
    expect(cross!.getExtension(x509.KeyUsagesExtension)!.usages).toBe(newRoot!.getExtension(x509.KeyUsagesExtension)!.usages);
    expect(cross!.notBefore.getTime()).toBeGreaterThanOrEqual(oldRoot!.notBefore.getTime());
    expect(cross!.notAfter.getTime()).toBeLessThanOrEqual(oldRoot!.notAfter.getTime());

    expect(ca.roots.map((r) => [r.generation, r.crossPem !== undefined])).toEqual([[1, false], [2, true]]);
    expect(ca.rootsPem).toBe(first.rootsPem + ca.roots[1]!.pem);
    expect(ca.rootCertificate.subject).toBe(newRoot!.subject);
    expect(ca.generations.map((g) => [g.generation, g.rootGeneration])).toEqual([[1, 1], [2, 2]]);
    expect(ca.activeGeneration).toBe(2);
    expect(await certOf(ca.chainPem).verify({ publicKey: newRoot!.publicKey, signatureOnly: true })).toBe(true);
    expect(ca.generations[0]!.alternateChainPems).toEqual([]);
    expect(ca.generations[1]!.alternateChainPems).toEqual([ca.chainPem + ca.roots[1]!.crossPem]);

    // Each root signs its own CRL of intermediates.
    const request = { crlNumber: 1n, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), entries: [] };
    const crl1 = new x509.X509Crl(Uint8Array.from(await ca.signIntermediateCrl(request)));
    const crl2 = new x509.X509Crl(Uint8Array.from(await ca.signIntermediateCrl(request, 2)));
    expect([crl1.issuer, crl2.issuer]).toEqual([oldRoot!.subject, newRoot!.subject]);
    expect(await crl2.verify({ publicKey: newRoot!.publicKey })).toBe(true);
    expect(await crl2.verify({ publicKey: oldRoot!.publicKey })).toBe(false);
    await expect(ca.signIntermediateCrl(request, 3)).rejects.toThrow(CaError);

    // rotate-intermediate now signs with the new root; a second rotate-root is root 3, crossed by root 2.
    const next = await rotateIntermediate(o);
    expect(next.ca.generations.at(-1)!.rootGeneration).toBe(2);
    expect(next.ca.generations.at(-1)!.alternateChainPems).toHaveLength(1);
    const third = await rotateRoot(o);
    expect([third.rootGeneration, third.generation]).toEqual([3, 4]);
    const cross3 = await readCert(o.dir, 'root-3-cross.pem');
    expect(cross3.issuer).toBe(newRoot!.subject);
    expect((await loadCa(o)).roots.map((r) => r.generation)).toEqual([1, 2, 3]);
  });

  it('gives the new root and intermediate the configured key algorithm', async () => {
    const o = options();
    await initCa(o);
    const { ca } = await rotateRoot({ ...o, keyAlgorithm: 'ecdsa-p384' });
    expect(ca.keyAlgorithm).toBe('ecdsa-p384');
    expect((ca.rootCertificate.publicKey.algorithm as EcKeyAlgorithm).namedCurve).toBe('P-384');
    expect(ca.generations[0]!.rootGeneration).toBe(1);
  });

  it('refuses to load a cross certificate that the root before did not sign, or of another key', async () => {
    const o = options();
    await initCa(o);
    await rotateRoot(o);
    const cross = join(o.dir, 'root-2-cross.pem');
    await rm(cross);
    // The new root's self-signed certificate has its name and key, but root 1 did not sign it.
    await copyFile(join(o.dir, 'root-2.pem'), cross);
    await expect(loadCa(o)).rejects.toThrow(/root-2-cross\.pem was not issued by the root before it/);
    await rm(cross);
    await copyFile(join(o.dir, 'root.pem'), cross);
    await expect(loadCa(o)).rejects.toThrow(/root-2-cross\.pem is not a cross certificate of/);
    await rm(cross);
    await expect(loadCa(o)).rejects.toThrow(cross);
  });
});
