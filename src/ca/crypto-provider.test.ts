import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa } from './ca-files.js';
import { nativeCryptoProvider, useCryptoProvider } from './crypto-provider.js';
import { parseCsr, parseCsrFully } from './csr.js';
import { newSerialHex } from './serial.js';

/** Node's WebCrypto with every SubtleCrypto call recorded: stands in for a PKCS#11 provider. */
function recordingProvider(calls: string[]): Crypto {
  const native = nativeCryptoProvider();
  const subtle = new Proxy(native.subtle, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    subtle,
    getRandomValues: <T extends ArrayBufferView>(array: T): T => native.getRandomValues(array),
    randomUUID: () => native.randomUUID(),
  } as Crypto;
}

/** A default provider that fails loudly, to prove ca/ never falls back on the library's global. */
const refusingProvider = {
  get subtle(): SubtleCrypto {
    throw new Error('the global @peculiar/x509 crypto provider was used');
  },
  getRandomValues(): never {
    throw new Error('the global @peculiar/x509 crypto provider was used');
  },
} as unknown as Crypto;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certmint-provider-'));
});
afterAll(async () => {
  useCryptoProvider(nativeCryptoProvider());
  await rm(dir, { recursive: true, force: true });
});

describe('crypto provider', () => {
  it('is Node\'s WebCrypto by default and can be made the library default', () => {
    expect(nativeCryptoProvider()).toBe(globalThis.crypto);
    const calls: string[] = [];
    const provider = recordingProvider(calls);
    useCryptoProvider(provider);
    expect(x509.cryptoProvider.get()).toBe(provider);
  });

  it('is the one that generates, signs and verifies when passed in, and the global is never touched', async () => {
    useCryptoProvider(refusingProvider);
    const calls: string[] = [];
    const crypto = recordingProvider(calls);
    const ca = await initCa({
      dir: join(dir, 'ca'),
      name: 'provider test',
      crlUrl: 'http://p.test/crl',
      caIssuersUrl: 'http://p.test/ca',
      crypto,
    });
    expect(calls).toContain('generateKey');
    expect(calls).toContain('importKey');
    const signsBefore = calls.filter((c) => c === 'sign').length;
    const now = Date.now();
    await ca.issueLeaf({
      spki: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }),
      identifiers: [{ type: 'dns', value: 'p.example' }],
      notBefore: new Date(now),
      notAfter: new Date(now + 3_600_000),
      serialHex: newSerialHex(),
    });
    expect(calls.filter((c) => c === 'sign').length).toBe(signsBefore + 1);

    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: 'CN=p.example', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
      crypto,
    );
    calls.length = 0;
    // The full parser verifies through the provider; the fast path (the requests clients send)
    // checks this public-key signature with node:crypto, and neither touches the global.
    expect((await parseCsrFully(new Uint8Array(csr.rawData), crypto)).signatureValid).toBe(true);
    expect(calls).toContain('verify');
    expect((await parseCsr(new Uint8Array(csr.rawData), crypto)).signatureValid).toBe(true);
  });
});
