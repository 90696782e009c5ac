import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/*
 * One public key has many spellings: an EC point compressed, uncompressed or hybrid; RSA integers
 * with leading zeros or long-form lengths; a missing NULL; base64url with padding or stray bits;
 * EC coordinates shorter or longer than the field. OpenSSL reads them all, so every comparison,
 * hash and thumbprint made from the bytes as sent lets one key pass for another (a blocked key sent
 * compressed, one account key holding several accounts). Every key that enters certmint is decoded
 * once into the one canonical form below and only that form is used afterwards:
 *   - JWK (RFC 7517/7518): RSA n and e minimal big-endian, EC x and y exactly the field length,
 *     OKP x exactly the key length, base64url without padding and with zero trailing bits;
 *   - SPKI: the minimal DER a canonical encoder writes for that JWK: RFC 5480 §2 (named curve,
 *     uncompressed point), RFC 3279 §2.3.1 (NULL parameters, minimal INTEGERs), RFC 8410 §4.
 * Shared by ca/ (CSR keys), ra/ (account keys, revocation) and ledger/ (the migration that
 * re-hashes keys recorded before this): core/ is the layer every one of them may use.
 */

/** The key cannot be put in canonical form: the message says what is wrong with it. */
export class KeyEncodingError extends Error {
  override readonly name = 'KeyEncodingError';
}

/** A public JWK in canonical form: only the RFC 7638 members, canonical values. */
export type CanonicalJwk =
  | { readonly kty: 'RSA'; readonly n: string; readonly e: string }
  | { readonly kty: 'EC'; readonly crv: 'P-256' | 'P-384' | 'P-521'; readonly x: string; readonly y: string }
  | { readonly kty: 'OKP'; readonly crv: 'Ed25519' | 'Ed448'; readonly x: string };

const EC_CURVES = {
  'P-256': { size: 32, prefix: '3059301306072a8648ce3d020106082a8648ce3d03010703420004' },
  'P-384': { size: 48, prefix: '3076301006072a8648ce3d020106052b8104002203620004' },
  'P-521': { size: 66, prefix: '30819b301006072a8648ce3d020106052b810400230381860004' },
} as const;
const OKP_CURVES = {
  Ed25519: { size: 32, prefix: '302a300506032b6570032100' },
  Ed448: { size: 57, prefix: '3043300506032b6571033a00' },
} as const;
/** AlgorithmIdentifier rsaEncryption with its NULL parameters (RFC 3279 §2.3.1). */
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Strict base64url (RFC 7515 §2): the alphabet only, no padding, zero trailing bits. */
function strictBase64url(value: unknown, member: string): Buffer {
  if (typeof value !== 'string' || !B64URL.test(value)) {
    throw new KeyEncodingError(`JWK "${member}" must be a non-empty base64url string without padding`);
  }
  const bytes = Buffer.from(value, 'base64url');
  // A length of 4k+1, or unused bits that are not zero, decode to bytes that encode differently.
  if (bytes.toString('base64url') !== value) throw new KeyEncodingError(`JWK "${member}" is not canonical base64url (stray trailing bits)`);
  return bytes;
}

function withoutLeadingZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** An EC coordinate at exactly the field length: leading zeros added or removed, never other bytes. */
function fieldElement(bytes: Buffer, size: number, member: string): string {
  const magnitude = withoutLeadingZeros(bytes);
  if (magnitude.length > size) throw new KeyEncodingError(`JWK "${member}" is longer than the curve's ${size}-byte field`);
  return Buffer.concat([Buffer.alloc(size - magnitude.length), magnitude]).toString('base64url');
}

/**
 * The canonical form of a public JWK, or KeyEncodingError. Does not check that the key is usable
 * (an EC point on its curve, say): whoever imports it does.
 */
export function canonicalJwk(jwk: Readonly<Record<string, unknown>>): CanonicalJwk {
  switch (jwk.kty) {
    case 'RSA': {
      const n = withoutLeadingZeros(strictBase64url(jwk.n, 'n'));
      const e = withoutLeadingZeros(strictBase64url(jwk.e, 'e'));
      if (n.length === 0 || e.length === 0) throw new KeyEncodingError('JWK RSA "n" and "e" must not be zero');
      return { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') };
    }
    case 'EC': {
      const crv = jwk.crv;
      if (typeof crv !== 'string' || !Object.hasOwn(EC_CURVES, crv)) throw new KeyEncodingError(`JWK EC curve ${JSON.stringify(crv)} is not supported (P-256, P-384 or P-521)`);
      const { size } = EC_CURVES[crv as keyof typeof EC_CURVES];
      return {
        kty: 'EC',
        crv: crv as keyof typeof EC_CURVES,
        x: fieldElement(strictBase64url(jwk.x, 'x'), size, 'x'),
        y: fieldElement(strictBase64url(jwk.y, 'y'), size, 'y'),
      };
    }
    case 'OKP': {
      const crv = jwk.crv;
      if (typeof crv !== 'string' || !Object.hasOwn(OKP_CURVES, crv)) throw new KeyEncodingError(`JWK OKP curve ${JSON.stringify(crv)} is not supported (Ed25519 or Ed448)`);
      const { size } = OKP_CURVES[crv as keyof typeof OKP_CURVES];
      const x = strictBase64url(jwk.x, 'x');
      // RFC 8037 §2: the key is a string of octets, not a number: its length is fixed.
      if (x.length !== size) throw new KeyEncodingError(`JWK ${crv} "x" must be ${size} bytes, not ${x.length}`);
      return { kty: 'OKP', crv: crv as keyof typeof OKP_CURVES, x: x.toString('base64url') };
    }
    default:
      throw new KeyEncodingError(`JWK key type ${JSON.stringify(jwk.kty)} is not supported (EC, RSA or OKP)`);
  }
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** A minimal positive DER INTEGER of a big-endian magnitude without leading zeros. */
function derPositiveInteger(magnitude: Buffer): Buffer {
  return der(0x02, magnitude[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), magnitude]) : magnitude);
}

/** The canonical DER SubjectPublicKeyInfo of a canonical JWK. */
export function spkiOfCanonicalJwk(jwk: CanonicalJwk): Buffer {
  switch (jwk.kty) {
    case 'EC':
      return Buffer.concat([Buffer.from(EC_CURVES[jwk.crv].prefix, 'hex'), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    case 'OKP':
      return Buffer.concat([Buffer.from(OKP_CURVES[jwk.crv].prefix, 'hex'), Buffer.from(jwk.x, 'base64url')]);
    case 'RSA': {
      const rsaKey = der(0x30, derPositiveInteger(Buffer.from(jwk.n, 'base64url')), derPositiveInteger(Buffer.from(jwk.e, 'base64url')));
      return der(0x30, RSA_ALGORITHM, der(0x03, Buffer.from([0]), rsaKey));
    }
  }
}

/** The canonical SPKI of any public JWK (account keys, certificate keys in a JWS), or KeyEncodingError. */
export function canonicalSpkiOfJwk(jwk: Readonly<Record<string, unknown>>): Buffer {
  return spkiOfCanonicalJwk(canonicalJwk(jwk));
}

const EXPORTABLE = new Set(['rsa', 'ec', 'ed25519', 'ed448']);

/**
 * A key read from a DER SPKI of any encoding OpenSSL accepts, and its canonical SPKI.
 * Undefined for a key OpenSSL reads but certmint never certifies (DSA, X25519, curves other than
 * P-256/384/521): policy refuses those by type. KeyEncodingError when the bytes are no key at all.
 */
export function canonicalSpki(spki: Uint8Array): { readonly der: Buffer; readonly key: KeyObject } | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    throw new KeyEncodingError(`the public key could not be decoded (${(e as Error).message})`);
  }
  if (!EXPORTABLE.has(key.asymmetricKeyType ?? '')) return undefined;
  let jwk: JsonWebKey;
  try {
    jwk = key.export({ format: 'jwk' });
  } catch {
    return undefined; // an EC curve without a JWK name: not one certmint certifies
  }
  if (jwk.kty === 'EC' && (typeof jwk.crv !== 'string' || !Object.hasOwn(EC_CURVES, jwk.crv))) return undefined;
  return { der: canonicalSpkiOfJwk(jwk as Record<string, unknown>), key };
}

/** RFC 7638 SHA-256 thumbprint of a canonical JWK (the required members in lexicographic order), base64url. */
export function thumbprintOfCanonicalJwk(jwk: CanonicalJwk): string {
  const members =
    jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** SHA-256 of a canonical SPKI, hex: certificates.key_hash and blocked_keys.key_hash. */
export function keyHashOfSpki(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

/** The canonical key hash of whatever SPKI bytes a certificate holds; undefined when it has none certmint canonicalises. */
export function canonicalKeyHashOfSpki(spki: Uint8Array): string | undefined {
  const canonical = canonicalSpki(spki);
  return canonical && keyHashOfSpki(canonical.der);
}
