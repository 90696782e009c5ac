import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { rawCsr, spellJwk, spellSpki, type SpkiSpelling } from '../../test/support/key-spellings.js';
import { parseCsr } from '../ca/csr.js';
import { canonicalJwk, canonicalSpkiOfJwk, keyHashOfSpki, KeyEncodingError, thumbprintOfCanonicalJwk } from './canonical-key.js';

// Issue 19 points 4 and 8: every spelling of one key is either refused or read as that key's one
// canonical form (the same SPKI, so the same certificate key and key hash; the same thumbprint).
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);

const pairs: { kind: string; publicKey: KeyObject; privateKey: KeyObject }[] = [
  { kind: 'P-256', ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
  { kind: 'P-384', ...generateKeyPairSync('ec', { namedCurve: 'P-384' }) },
  { kind: 'RSA', ...generateKeyPairSync('rsa', { modulusLength: 2048 }) },
  { kind: 'Ed25519', ...generateKeyPairSync('ed25519') },
];

const spelling: fc.Arbitrary<SpkiSpelling> = fc.record(
  {
    point: fc.constantFrom('uncompressed', 'compressed', 'hybrid'),
    integerZeros: fc.integer({ min: 0, max: 3 }),
    longForm: fc.boolean(),
    omitNull: fc.boolean(),
    extraBytes: fc.integer({ min: 0, max: 4 }),
  },
  { requiredKeys: [] },
);

describe('canonical keys', () => {
  it('reads every re-encoding of a CSR key as the canonical SPKI, or refuses it', async () => {
    const seen = { runs: 0, read: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...pairs), spelling, async ({ publicKey, privateKey }, s) => {
        seen.runs += 1;
        const canonical = spellSpki(publicKey);
        const csr = rawCsr(spellSpki(publicKey, s), ['a.example'], privateKey);
        let spki: Uint8Array;
        try {
          const parsed = await parseCsr(csr);
          if (!parsed.signatureValid) return; // refused by finalize
          spki = parsed.spki;
        } catch {
          return; // refused: badCSR
        }
        seen.read += 1;
        expect(Buffer.from(spki).equals(canonical)).toBe(true);
        expect(keyHashOfSpki(spki)).toBe(keyHashOfSpki(canonical));
        // The account key path gives the very same bytes for the same key.
        expect(canonicalSpkiOfJwk(publicKey.export({ format: 'jwk' }) as Record<string, unknown>).equals(canonical)).toBe(true);
      }),
      { numRuns: RUNS },
    );
    // Cases that reach the comparison, not a refusal: measured about half (1,000 runs, three seeds).
    expect(seen.read, `${seen.read} of ${seen.runs} spellings were read`).toBeGreaterThanOrEqual(seen.runs / 4);
  });

  it('gives every spelling of an account JWK one thumbprint, or refuses it', async () => {
    const seen = { runs: 0, read: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...pairs),
        fc.record({ zeros: fc.integer({ min: 0, max: 3 }), padding: fc.boolean(), stripZeros: fc.boolean() }),
        async ({ publicKey }, s) => {
          const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
          seen.runs += 1;
          const expected = await calculateJwkThumbprint(jwk as JWK, 'sha256');
          let thumbprint: string;
          try {
            thumbprint = thumbprintOfCanonicalJwk(canonicalJwk(spellJwk(jwk, s)));
          } catch (e) {
            expect(e).toBeInstanceOf(KeyEncodingError);
            return;
          }
          seen.read += 1;
          expect(thumbprint).toBe(expected);
          expect(await calculateJwkThumbprint(canonicalJwk(spellJwk(jwk, s)) as JWK, 'sha256')).toBe(expected);
        },
      ),
      { numRuns: RUNS },
    );
    // Cases that reach the comparison, not a refusal: measured about half (1,000 runs, three seeds).
    expect(seen.read, `${seen.read} of ${seen.runs} spellings were read`).toBeGreaterThanOrEqual(seen.runs / 4);
  });

  it('refuses base64url with stray trailing bits, and OKP keys of the wrong length', () => {
    const x = (pairs[3]!.publicKey.export({ format: 'jwk' }) as { x: string }).x;
    // 32 bytes: 43 characters, the last carrying 2 unused bits. Its lowest bit is one of them; it is
    // flipped in the alphabet's index (flipping the character code gave "@" for "A" with some keys).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const stray = x.slice(0, -1) + alphabet[alphabet.indexOf(x[42]!) ^ 1]!;
    expect(() => canonicalJwk({ kty: 'OKP', crv: 'Ed25519', x: stray })).toThrow(/stray trailing bits|32 bytes/);
    expect(() => canonicalJwk({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(31).toString('base64url') })).toThrow(/32 bytes/);
    expect(() => canonicalJwk({ kty: 'EC', crv: 'P-256', x: Buffer.alloc(33, 1).toString('base64url'), y: x })).toThrow(/longer than/);
  });
});
