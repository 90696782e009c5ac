import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { caKeySpec, caKeySpecOf, generateCaKeyPair, importCaPrivateKey, nodeSigner, signatureVerifies } from './ca-keys.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import type { CaKeyAlgorithm } from './types.js';

const crypto = nativeCryptoProvider();
const paths = { key: '/ca/k.pem', cert: '/ca/c.pem' };

async function selfSigned(algorithm: CaKeyAlgorithm) {
  const spec = caKeySpec(algorithm);
  const keys = await generateCaKeyPair(spec, crypto);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { name: 'CN=k', keys, signingAlgorithm: spec.signing },
    crypto,
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { spec, cert, pkcs8 };
}

describe('CA keys', () => {
  it.each<CaKeyAlgorithm>(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048'])(
    'generates %s, finds the algorithm again from the certificate, and imports the key non-extractable',
    async (algorithm) => {
      const { cert, pkcs8 } = await selfSigned(algorithm);
      const spec = caKeySpecOf(cert, paths.cert);
      expect(spec.algorithm).toBe(algorithm);
      const key = await importCaPrivateKey(pkcs8, cert, spec, paths, crypto);
      expect(key.extractable).toBe(false);
      expect(key.usages).toEqual(['sign']);
      await expect(crypto.subtle.exportKey('pkcs8', key)).rejects.toThrow();
    },
  );

  it.each<CaKeyAlgorithm>(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048'])(
    'signs with a non-extractable %s key through node:crypto in WebCrypto\'s form (r‖s for ECDSA)',
    async (algorithm) => {
      const { spec, cert, pkcs8 } = await selfSigned(algorithm);
      const key = await importCaPrivateKey(pkcs8, cert, spec, paths, crypto);
      const signNow = nodeSigner(key, spec);
      expect(signNow).toBeDefined();
      const data = new TextEncoder().encode('to be signed');
      const signature = signNow!(data);
      const spki = new Uint8Array(cert.publicKey.rawData);
      expect(signatureVerifies(spec, spki, data, signature)).toBe(true);
      // WebCrypto verifies it as its own: the same encoding, hash and padding.
      const pub = await cert.publicKey.export(spec.keyParams, ['verify'], crypto);
      expect(await crypto.subtle.verify(spec.signing, pub, signature as Uint8Array<ArrayBuffer>, data)).toBe(true);
      expect(signatureVerifies(spec, spki, new TextEncoder().encode('something else'), signature)).toBe(false);
    },
  );

  it('leaves a key of another WebCrypto implementation to that implementation', () => {
    const foreign = { type: 'private', algorithm: { name: 'ECDSA' }, extractable: false, usages: ['sign'] } as unknown as CryptoKey;
    expect(nodeSigner(foreign, caKeySpec('ecdsa-p256'))).toBeUndefined();
  });

  it('refuses a key of another certificate and a key of another type', async () => {
    const a = await selfSigned('ecdsa-p256');
    const b = await selfSigned('ecdsa-p256');
    const rsa = await selfSigned('rsa-2048');
    await expect(importCaPrivateKey(b.pkcs8, a.cert, a.spec, paths, crypto)).rejects.toThrow(
      'CA file /ca/k.pem holds a key that does not match the certificate in /ca/c.pem',
    );
    await expect(importCaPrivateKey(rsa.pkcs8, a.cert, a.spec, paths, crypto)).rejects.toThrow(
      'CA file /ca/k.pem is not a ecdsa-p256 private key, which /ca/c.pem needs',
    );
  });

  it('refuses a certificate whose key type a CA does not use', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=ed', keys, signingAlgorithm: { name: 'Ed25519' } }, crypto);
    expect(() => caKeySpecOf(cert, paths.cert)).toThrow(/CA certificate \/ca\/c.pem has a Ed25519 +key/);
  });
});
