// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaError, initCa, loadCa, loadOrInitCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate } from './rotation.js';
import { issueTestLeaf, openssl } from '../../test/support/ca-scratch.js';
import { pemOf } from '../../test/support/pem.js';

// certmint ca rotate-intermediate: a new intermediate under the same root signs new leaves; the
// old one keeps signing the CRL of what it issued.
let base: string;
let n = 0;

function options(): CaOptions {
  n += 1;
  return { dir: join(base, `ca-${n}`), name: 'rot test', crlUrl: 'http://certmint.test/crl', caIssuersUrl: 'http://certmint.test/intermediate.der' };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-rotate-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

describe('rotateIntermediate', () => {
  it('adds generation 2 (key 0600) whose leaves chain to it and name /crl/2 and /intermediate/2.der', async () => {
    const o = options();
    const first = await initCa(o);
    const oldLeaf = await issueTestLeaf(first);
    const { ca, generation } = await rotateIntermediate(o);
    expect(generation).toBe(2);
    expect((await stat(join(o.dir, 'intermediate-2.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(o.dir, 'active-intermediate'), 'utf8')).trim()).toBe('2');
    expect(ca.activeGeneration).toBe(2);
    expect(ca.generations.map((g) => g.generation)).toEqual([1, 2]);
    expect(ca.generations[1]!.subject).toBe('O=rot test, CN=rot test Intermediate CA G2');
    expect(ca.rootsPem).toBe(first.rootsPem);
    expect(ca.generations[0]!.chainPem).toBe(first.chainPem);
    expect(ca.chainPem).not.toBe(first.chainPem);

    const leaf = await issueTestLeaf(ca);
    expect(leaf.issuerGeneration).toBe(2);
    expect(leaf.chainPem).toBe(ca.chainPem);
    const cert = new X509Certificate(leaf.der);
    expect(cert.checkIssued(new X509Certificate(ca.chainPem))).toBe(true);
    expect(cert.checkIssued(new X509Certificate(first.chainPem))).toBe(false);
    const text = openssl(['x509', '-noout', '-text', '-in', await write('leaf2.pem', pemOf(leaf.der))]);
    expect(text).toContain('URI:http://certmint.test/crl/2');
    expect(text).toContain('CA Issuers - URI:http://certmint.test/intermediate/2.der');
    const root = join(o.dir, 'root.pem');
    expect(openssl(['verify', '-CAfile', root, '-untrusted', await write('chain2.pem', leaf.chainPem), await write('l2.pem', pemOf(leaf.der))])).toContain(': OK');
    // The leaf from before still verifies with the chain it was issued with.
    expect(openssl(['verify', '-CAfile', root, '-untrusted', await write('chain1.pem', oldLeaf.chainPem), await write('l1.pem', pemOf(oldLeaf.der))])).toContain(': OK');
    expect(oldLeaf.issuerGeneration).toBe(1);
    expect(openssl(['x509', '-noout', '-text', '-in', await write('l1b.pem', pemOf(oldLeaf.der))])).toContain('URI:http://certmint.test/crl\n');

    // Each generation signs its own CRL; the active one by default.
    const request = { crlNumber: 1n, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), entries: [{ serialHex: oldLeaf.serialHex, revokedAt: new Date(), reason: 1 }] };
    const crl1 = new x509.X509Crl(Uint8Array.from(await ca.signCrl(request, 1)));
    const crlActive = new x509.X509Crl(Uint8Array.from(await ca.signCrl({ ...request, entries: [] })));
    expect(crl1.issuer).toBe(ca.generations[0]!.subject);
    expect(crlActive.issuer).toBe(ca.generations[1]!.subject);
    expect(await crl1.verify({ publicKey: new x509.X509Certificate(Uint8Array.from(ca.generations[0]!.der)).publicKey })).toBe(true);
    expect(await crlActive.verify({ publicKey: new x509.X509Certificate(Uint8Array.from(ca.generations[1]!.der)).publicKey })).toBe(true);
    await expect(ca.signCrl(request, 3)).rejects.toThrow(CaError);

    // Loading finds both; a third rotation makes 3.
    const loaded = await loadOrInitCa(o);
    expect(loaded.created).toBe(false);
    expect(loaded.ca.activeGeneration).toBe(2);
    expect((await rotateIntermediate(o)).generation).toBe(3);

    async function write(name: string, contents: string): Promise<string> {
      const path = join(o.dir, '..', `${n}-${name}`);
      await writeFile(path, contents);
      return path;
    }
  });

  it('refuses to load a CA whose active generation or a generation key is missing, naming the file', async () => {
    const o = options();
    await initCa(o);
    await rotateIntermediate(o);
    const key = join(o.dir, 'intermediate-2.key.pem');
    const keyPem = await readFile(key, 'utf8');
    await unlink(key);
    await expect(loadCa(o)).rejects.toThrow(key);
    // Rotation never writes over a file that is there (a half-removed generation included).
    await writeFile(key, keyPem, { mode: 0o600 });
    await writeFile(join(o.dir, 'active-intermediate'), '7\n');
    await expect(loadCa(o)).rejects.toThrow(/generation 7 as active/);
    await writeFile(join(o.dir, 'active-intermediate'), 'two\n');
    await expect(loadCa(o)).rejects.toThrow(/active intermediate generation/);
  });

  it('refuses an intermediate of a generation that another root signed', async () => {
    const o = options();
    const other = options();
    await initCa(o);
    await initCa(other);
    await rotateIntermediate(other);
    for (const f of ['intermediate-2.pem', 'intermediate-2.key.pem']) await writeFile(join(o.dir, f), await readFile(join(other.dir, f)), { mode: 0o600 });
    await expect(loadCa(o)).rejects.toThrow(/intermediate-2\.pem was not issued by the root/);
  });
});
