import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { FlattenedSign, exportJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { importJwsKey, JwsKeyError, verifyJwsSignature, type JwsAlgorithm } from './jws-keys.js';

const PAIRS: Record<JwsAlgorithm, () => ReturnType<typeof generateKeyPairSync>> = {
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  EdDSA: () => generateKeyPairSync('ed25519'),
};

async function signed(alg: JwsAlgorithm, pair: ReturnType<typeof generateKeyPairSync>, payload = '{"a":1}') {
  const jws = await new FlattenedSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg }).sign(pair.privateKey);
  return { input: Buffer.from(`${jws.protected}.${jws.payload}`, 'ascii'), signature: Buffer.from(jws.signature, 'base64url') };
}

describe('JWS keys on node:crypto', () => {
  it.each(Object.keys(PAIRS) as JwsAlgorithm[])('verifies what jose signs with %s, and nothing else', async (alg) => {
    const pair = PAIRS[alg]();
    const key = importJwsKey((await exportJWK(pair.publicKey)) as Record<string, unknown>, alg);
    const { input, signature } = await signed(alg, pair);
    expect(verifyJwsSignature(key, input, signature)).toBe(true);
    expect(verifyJwsSignature(key, Buffer.concat([input, Buffer.from('x')]), signature)).toBe(false);
    const other = await signed(alg, PAIRS[alg]());
    expect(verifyJwsSignature(key, other.input, other.signature)).toBe(false);
    expect(verifyJwsSignature(key, input, Buffer.alloc(0))).toBe(false);
  });

  it('refuses an ECDSA signature in DER instead of R || S (RFC 7518 §3.4)', async () => {
    const pair = PAIRS.ES256();
    const key = importJwsKey((await exportJWK(pair.publicKey)) as Record<string, unknown>, 'ES256');
    const input = Buffer.from('e30.e30', 'ascii');
    const der = nodeSign('sha256', input, { key: pair.privateKey, dsaEncoding: 'der' });
    expect(verifyJwsSignature(key, input, der)).toBe(false);
    expect(verifyJwsSignature(key, input, nodeSign('sha256', input, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }))).toBe(true);
  });

  it('refuses keys that do not fit the alg, RSA under 2048 bits or with an exponent other than 65537, and EC points off the curve', async () => {
    const p256 = (await exportJWK(PAIRS.ES256().publicKey)) as Record<string, unknown>;
    expect(() => importJwsKey(p256, 'ES384')).toThrow(/needs curve P-384/);
    expect(() => importJwsKey(p256, 'RS256')).toThrow(/needs a RSA key/);
    const rsa1024 = (await exportJWK(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)) as Record<string, unknown>;
    expect(() => importJwsKey(rsa1024, 'RS256')).toThrow(/at least 2048 bits, this one has 1024/);
    const exponent3 = (await exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey)) as Record<string, unknown>;
    expect(() => importJwsKey(exponent3, 'RS256')).toThrow(/public exponent 3 is not accepted/);
    const offCurve = { ...p256, y: Buffer.alloc(32, 1).toString('base64url') };
    expect(() => importJwsKey(offCurve, 'ES256')).toThrow(JwsKeyError);
    expect(() => importJwsKey({ kty: 'OKP', crv: 'X25519', x: p256.x }, 'EdDSA')).toThrow(/Ed25519 or Ed448/);
  });
});
