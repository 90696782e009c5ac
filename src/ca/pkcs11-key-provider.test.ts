import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeSoftHsmToken, SOFTHSM_MODULE, softHsmAvailable, type SoftHsmToken } from '../../test/support/softhsm.js';
import { CaError, loadOrInitCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';
import { importCa } from './ca-import.js';
import { createIntermediateCsr } from './ca-csr.js';
import { fileKeyProvider } from './file-key-provider.js';
import { openPkcs11Token, type Pkcs11Token } from './pkcs11/index.js';
import { Pkcs11KeyProvider, pkcs11KeyUriOf } from './pkcs11-key-provider.js';
import { verifiedLeaf } from '../../test/support/ca-scratch.js';
import { signedByCorporateRoot } from '../../test/support/corporate-root.js';

const available = softHsmAvailable();

describe('pkcs11KeyUriOf', () => {
  it('keeps generation 1 and derives later generations from label and id', () => {
    expect(pkcs11KeyUriOf('pkcs11:object=ca;id=%01', 1)).toBe('pkcs11:object=ca;id=%01');
    expect(pkcs11KeyUriOf('pkcs11:object=ca;id=%01', 2)).toBe('pkcs11:object=ca-g2;id=%01%2d%67%32');
    expect(pkcs11KeyUriOf('pkcs11:object=ca', 12)).toBe('pkcs11:object=ca-g12');
  });
});

describe.skipIf(!available)('the pkcs11 key provider (SoftHSM)', () => {
  let hsm: SoftHsmToken | undefined;
  let token: Pkcs11Token | undefined;
  let base: string | undefined;

  afterEach(async () => {
    await token?.close();
    token = undefined;
    hsm?.remove();
    hsm = undefined;
    if (base) await rm(base, { recursive: true, force: true });
    base = undefined;
  });

  async function setUp(keys: { intermediateKey?: string; rootKey?: string | null } = {}): Promise<{ o: CaOptions; provider: Pkcs11KeyProvider }> {
    hsm ??= makeSoftHsmToken();
    base = await mkdtemp(join(tmpdir(), 'certmint-pkcs11-provider-'));
    token = await openPkcs11Token({ module: SOFTHSM_MODULE, token: hsm.label, pin: hsm.pin });
    const dir = join(base, 'ca');
    const provider = new Pkcs11KeyProvider({
      dir,
      token,
      intermediateKey: keys.intermediateKey ?? 'pkcs11:object=certmint-intermediate',
      rootKey: keys.rootKey === null ? undefined : (keys.rootKey ?? 'pkcs11:object=certmint-root'),
      rootFiles: fileKeyProvider({ dir }),
    });
    const o: CaOptions = { dir, name: 'hsm test', keyAlgorithm: 'ecdsa-p256', crlUrl: 'http://certmint.test/crl', caIssuersUrl: 'http://certmint.test/intermediate.der', keyProvider: provider };
    return { o, provider };
  }

  const privateKeys = () => hsm!.pkcs11Tool(['--token-label', hsm!.label, '--list-objects', '--type', 'privkey']);

  it('creates both keys on the token at first start (sensitive, never extractable), records their URIs, and loads them again', async () => {
    const { o, provider } = await setUp();
    await provider.preflight('ecdsa-p256');
    const first = await loadOrInitCa(o);
    expect(first.created).toBe(true);
    const files = await readdir(o.dir);
    expect(files.filter((f) => f.endsWith('.key.pem'))).toEqual([]);
    expect(await readFile(join(o.dir, 'intermediate.key.pkcs11'), 'utf8')).toBe('pkcs11:object=certmint-intermediate\n');
    expect(await readFile(join(o.dir, 'root.key.pkcs11'), 'utf8')).toBe('pkcs11:object=certmint-root\n');
    expect((await stat(join(o.dir, 'root.key.pkcs11'))).mode & 0o777).toBe(0o644);
    const listing = privateKeys();
    expect(listing).toMatch(/label:\s+certmint-root/);
    expect(listing).toMatch(/label:\s+certmint-intermediate/);
    expect(listing.match(/Access:\s+sensitive, always sensitive, never extractable, local/g)).toHaveLength(2);

    const again = await loadOrInitCa(o);
    expect(again.created).toBe(false);
    expect(await verifiedLeaf(again.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect(again.ca.keyState()).toEqual({ ready: true });
  });

  it('a first start after one that crashed with the key records written and no certificate adopts the keys and their records', async () => {
    const { o, provider } = await setUp();
    await provider.create('root', 1, 'ecdsa-p256');
    await provider.create('intermediate', 1, 'ecdsa-p256');
    await mkdir(o.dir, { recursive: true });
    await writeFile(join(o.dir, 'root.key.pkcs11'), 'pkcs11:object=certmint-root\n');
    await writeFile(join(o.dir, 'intermediate.key.pkcs11'), 'pkcs11:object=certmint-intermediate\n');
    const first = await loadOrInitCa(o);
    expect(first.created).toBe(true);
    expect(privateKeys().match(/Private Key Object/g)).toHaveLength(2);
    expect(await verifiedLeaf(first.ca, o.dir)).toMatch(/leaf\.pem: OK/);
  });

  it.each(['ecdsa-p384', 'rsa-2048'] as const)('creates a %s CA on the token whose leaves verify', async (algorithm) => {
    const { o, provider } = await setUp();
    await provider.preflight(algorithm);
    const { ca } = await loadOrInitCa({ ...o, keyAlgorithm: algorithm });
    expect(ca.keyAlgorithm).toBe(algorithm);
    expect(await verifiedLeaf(ca, o.dir)).toMatch(/leaf\.pem: OK/);
  });

  it('keeps the root key a file when ca.pkcs11.rootKey is not set', async () => {
    const { o } = await setUp({ rootKey: null });
    await loadOrInitCa(o);
    const files = await readdir(o.dir);
    expect(files).toContain('root.key.pem');
    expect(files).not.toContain('intermediate.key.pem');
    expect(privateKeys()).not.toMatch(/certmint-root/);
    expect((await loadOrInitCa(o)).created).toBe(false);
  });

  it.each([
    ['label', 'pkcs11:object=vendor-key'],
    ['id', 'pkcs11:id=%42'],
  ])('uses an existing key made with pkcs11-tool --keypairgen, found by %s', async (_, uri) => {
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'vendor-key', '--id', '42']);
    const { o, provider } = await setUp({ intermediateKey: uri, rootKey: null });
    await provider.preflight('ecdsa-p256');
    const { ca } = await loadOrInitCa(o);
    const vendorKeys = privateKeys().match(/label:\s+vendor-key/g);
    expect(vendorKeys).toHaveLength(1);
    expect(privateKeys().match(/Private Key Object/g)).toHaveLength(1);
    expect(await verifiedLeaf(ca, o.dir)).toMatch(/leaf\.pem: OK/);
  });

  it('rotate-intermediate creates the next key on the token under a derived URI and records it', async () => {
    const { o } = await setUp({ intermediateKey: 'pkcs11:object=certmint-intermediate;id=%01' });
    await loadOrInitCa(o);
    const rotated = await rotateIntermediate(o);
    expect(rotated.generation).toBe(2);
    expect(await readFile(join(o.dir, 'intermediate-2.key.pkcs11'), 'utf8')).toBe('pkcs11:object=certmint-intermediate-g2;id=%01%2d%67%32\n');
    expect(privateKeys()).toMatch(/label:\s+certmint-intermediate-g2/);
    expect(await verifiedLeaf(rotated.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect((await loadOrInitCa(o)).ca.activeGeneration).toBe(2);
  });

  it('rotate-root creates the new root key and the next intermediate key on the token', async () => {
    const { o } = await setUp();
    await loadOrInitCa(o);
    const rotated = await rotateRoot(o);
    expect(rotated).toMatchObject({ rootGeneration: 2, generation: 2 });
    expect(await readFile(join(o.dir, 'root-2.key.pkcs11'), 'utf8')).toBe('pkcs11:object=certmint-root-g2\n');
    expect(await readFile(join(o.dir, 'intermediate-2.key.pkcs11'), 'utf8')).toBe('pkcs11:object=certmint-intermediate-g2\n');
    expect((await readdir(o.dir)).filter((f) => f.endsWith('.key.pem'))).toEqual([]);
    expect(await verifiedLeaf(rotated.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect((await loadOrInitCa(o)).ca.roots).toHaveLength(2);
  });

  it('refuses a token key that is not the certificate\'s, as for a file', async () => {
    const { o } = await setUp();
    await loadOrInitCa(o);
    // The record now names the root's key for the intermediate certificate.
    await rm(join(o.dir, 'intermediate.key.pkcs11'));
    await writeFile(join(o.dir, 'intermediate.key.pkcs11'), 'pkcs11:object=certmint-root\n');
    await expect(loadOrInitCa(o)).rejects.toThrow(/holds a key that does not match the certificate in .*intermediate\.pem/);
  });

  it('preflight refuses two keys matching one URI before anything is generated', async () => {
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twin', '--id', '01']);
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twin', '--id', '02']);
    const { provider } = await setUp({ intermediateKey: 'pkcs11:object=twin' });
    await expect(provider.preflight('ecdsa-p256')).rejects.toThrow(/twin/);
    expect(privateKeys().match(/Private Key Object/g)).toHaveLength(2);
  });

  it('ca csr makes the pending key on the token, and ca import without --key uses it', async () => {
    const { o } = await setUp({ rootKey: null });
    const csr = await createIntermediateCsr(o);
    expect(csr.keyFile).toBe('pkcs11:token=certmint;object=certmint-intermediate');
    expect(privateKeys().match(/label:\s+certmint-intermediate/g)).toHaveLength(1);
    expect((await readdir(o.dir)).filter((f) => f.includes('.key.'))).toEqual([]);
    // The external root (a corporate CA) signs the request.
    const { root, signed } = await signedByCorporateRoot(csr.csrPem);
    const imported = await importCa(o, { cert: { file: 'signed.pem', pem: signed.toString('pem') }, chain: { file: 'corp-root.pem', pem: root.toString('pem') } });
    expect((await readdir(o.dir)).filter((f) => f.endsWith('.key.pem'))).toEqual([]);
    expect(await verifiedLeaf(imported.ca, o.dir)).toMatch(/leaf\.pem: OK/);
    expect((await loadOrInitCa(o)).created).toBe(false);
  });

  it('ca import --key is refused: the key belongs on the token', async () => {
    const { o } = await setUp();
    const error = await importCa(o, { cert: { file: 'signed.pem', pem: '' }, key: { file: 'key.pem', pem: '' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as Error).message).toMatch(/ca\.keyProvider is pkcs11: the intermediate key belongs on the token/);
  });
});
