import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaSigningKey } from './ca-key.js';
import { CaError, loadOrInitCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';
import { caKeySpec, generateCaKeyPair } from './ca-keys.js';
import { createIntermediateCsr } from './ca-csr.js';
import { importCa } from './ca-import.js';
import type { CaKeyProvider, CaKeyRole } from './key-provider.js';
import { verifiedLeaf } from '../../test/support/ca-scratch.js';
import { signedByCorporateRoot } from '../../test/support/corporate-root.js';

// The seam a PKCS#11 token plugs into (issue 23): a key provider that keeps no files. Its keys
// stand for keys on a token (outside certmint): generated, held and used by the provider only.

/**
 * Keys held by the provider (as a token holds them), by role and generation; the pending key of
 * `ca csr` is the intermediate's (as on a token, where both are the one URI of ca.pkcs11.intermediateKey).
 */
function keyStore(): CaKeyProvider & { readonly held: Map<string, CaSigningKey> } {
  const held = new Map<string, CaSigningKey>();
  const name = (role: CaKeyRole, generation: number) => (role === 'pending-intermediate' ? 'intermediate-1' : `${role}-${generation}`);
  return {
    held,
    keyIsFile: () => false,
    async load(role, generation) {
      const key = held.get(name(role, generation));
      if (!key) throw new CaError(`the key store holds no ${role} key of generation ${generation}`);
      return key;
    },
    async create(role, generation, algorithm) {
      if (held.has(name(role, generation))) throw new CaError(`the key store holds a ${role} key of generation ${generation} already`);
      const spec = caKeySpec(algorithm);
      const pair = await generateCaKeyPair(spec, globalThis.crypto);
      const key: CaSigningKey = {
        spec,
        spki: new Uint8Array(await globalThis.crypto.subtle.exportKey('spki', pair.publicKey)),
        description: `key-store:${role}-${generation}`,
        sign: async (data) => new Uint8Array(await globalThis.crypto.subtle.sign(spec.signing, pair.privateKey, data as Uint8Array<ArrayBuffer>)),
      };
      held.set(name(role, generation), key);
      return { key, files: [] };
    },
  };
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-key-provider-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

function options(name: string, keyProvider: CaKeyProvider, keyAlgorithm: CaOptions['keyAlgorithm'] = 'ecdsa-p256'): CaOptions {
  return { dir: join(base, name), name: 'provider test', keyAlgorithm, crlUrl: 'http://certmint.test/crl', caIssuersUrl: 'http://certmint.test/intermediate.der', keyProvider };
}

describe('a key provider that keeps no files', () => {
  it.each(['ecdsa-p384', 'rsa-2048'] as const)('creates a %s CA with it on first start, loads it again, and rotates intermediate and root with it', async (algorithm) => {
    const store = keyStore();
    const o = options(`store-${algorithm}`, store, algorithm);
    const first = await loadOrInitCa(o);
    expect(first.created).toBe(true);
    expect([...store.held.keys()].sort()).toEqual(['intermediate-1', 'root-1']);
    expect((await readdir(o.dir)).filter((f) => f.endsWith('.key.pem'))).toEqual([]);

    // A restart: the certificates alone make a complete CA, its keys come from the provider.
    const again = await loadOrInitCa(o);
    expect(again.created).toBe(false);
    expect(again.ca.keyAlgorithm).toBe(algorithm);
    expect(await verifiedLeaf(again.ca, o.dir)).toMatch(/leaf\.pem: OK/);

    const rotated = await rotateIntermediate(o);
    expect(rotated.generation).toBe(2);
    expect(await verifiedLeaf(rotated.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    const newRoot = await rotateRoot(o);
    expect([...store.held.keys()].sort()).toEqual(['intermediate-1', 'intermediate-2', 'intermediate-3', 'root-1', 'root-2']);
    expect(await verifiedLeaf(newRoot.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect((await readdir(o.dir)).filter((f) => f.endsWith('.key.pem'))).toEqual([]);
  });

  it('refuses a key that is not the certificate\'s, naming where the provider keeps it', async () => {
    const store = keyStore();
    const o = options('swapped', store);
    await loadOrInitCa(o);
    store.held.set('intermediate-1', store.held.get('root-1')!);
    await expect(loadOrInitCa(o)).rejects.toThrow(
      `the key key-store:root-1 holds a key that does not match the certificate in ${join(o.dir, 'intermediate.pem')}`,
    );
  });

  it('makes the ca csr key with it, and ca import under an external root uses that key without any key file', async () => {
    const store = keyStore();
    const o = options('imported', store);
    const csr = await createIntermediateCsr(o);
    expect([...store.held.keys()]).toEqual(['intermediate-1']);

    // The external root (a corporate CA) signs the request.
    const { root, signed } = await signedByCorporateRoot(csr.csrPem);

    const imported = await importCa(o, { cert: { file: 'signed.pem', pem: signed.toString('pem') }, chain: { file: 'corp-root.pem', pem: root.toString('pem') } });
    expect(imported.usedPendingKey).toBe(true);
    expect((await readdir(o.dir)).filter((f) => f.endsWith('.key.pem') || f.startsWith('pending-'))).toEqual([]);
    expect(await verifiedLeaf(imported.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect((await loadOrInitCa(o)).created).toBe(false);
  });
});
