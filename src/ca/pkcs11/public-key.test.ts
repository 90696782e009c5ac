import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecParamsOf, ecSpki, rsaSpki } from './public-key.js';

describe('public keys read from a token', () => {
  it.each(['ecdsa-p256', 'ecdsa-p384'] as const)('%s: the point wrapped in an OCTET STRING (SoftHSM) or bare gives the same SPKI', (algorithm) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: algorithm === 'ecdsa-p256' ? 'P-256' : 'P-384' });
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
    const wrapped = Buffer.concat([Buffer.from([0x04, point.length]), point]);
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(ecSpki(ecParamsOf(algorithm), wrapped, 'key')).toEqual({ algorithm, spki: new Uint8Array(spki) });
    expect(ecSpki(ecParamsOf(algorithm), point, 'key')).toEqual({ algorithm, spki: new Uint8Array(spki) });
    expect(() => ecSpki(ecParamsOf(algorithm), point.subarray(1), 'key "x"')).toThrow(/key "x" has a CKA_EC_POINT certmint cannot read/);
  });

  it('refuses other curves and RSA sizes certmint does not use, naming them', () => {
    expect(() => ecSpki(Buffer.from('06052b81040023', 'hex'), Buffer.alloc(133), 'key "p521"')).toThrow(/key "p521" is an EC key on a curve certmint does not use/);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = publicKey.export({ format: 'jwk' });
    expect(() => rsaSpki(Buffer.from(jwk.n ?? '', 'base64url'), Buffer.from(jwk.e ?? '', 'base64url'), 'key "small"')).toThrow(/1024-bit RSA key/);
  });

  it('reads an RSA modulus with a leading zero byte as the key size it is', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const modulus = Buffer.concat([Buffer.from([0]), Buffer.from(jwk.n ?? '', 'base64url')]);
    const read = rsaSpki(modulus, Buffer.from(jwk.e ?? '', 'base64url'), 'key');
    expect(read.algorithm).toBe('rsa-2048');
    expect(Buffer.from(read.spki)).toEqual(publicKey.export({ type: 'spki', format: 'der' }));
  });
});
