import { sign, type KeyObject } from 'node:crypto';

/*
 * Other spellings of one public key, as a client (or an attacker) may send them: EC points
 * compressed or hybrid (X9.62 §4.3.6), RSA integers with leading zeros, long-form DER lengths,
 * a missing NULL, bytes after the key inside the BIT STRING; and PKCS#10 requests built around
 * such an SPKI byte for byte, signed by the key's private half. For the tests of canonical keys.
 */

export interface SpkiSpelling {
  readonly point?: 'uncompressed' | 'compressed' | 'hybrid';
  /** Extra zero bytes before each RSA INTEGER's minimal content. */
  readonly integerZeros?: number;
  /** Every length in long form (0x82 + 2 bytes), even where one byte would do. */
  readonly longForm?: boolean;
  /** RSA: the AlgorithmIdentifier's NULL left out. */
  readonly omitNull?: boolean;
  /** Bytes appended inside the BIT STRING after the key. */
  readonly extraBytes?: number;
}

const OID = {
  ecPublicKey: '06072a8648ce3d0201',
  'P-256': '06082a8648ce3d030107',
  'P-384': '06052b81040022',
  rsaEncryption: '06092a864886f70d010101',
  ed25519: '06032b6570',
} as const;

export function derTlv(tag: number, content: Uint8Array, longForm = false): Buffer {
  const n = content.length;
  let length: number[];
  if (longForm) length = [0x82, n >> 8, n & 0xff];
  else if (n < 0x80) length = [n];
  else if (n < 0x100) length = [0x81, n];
  else length = [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

const hex = (h: string) => Buffer.from(h, 'hex');

function integer(magnitude: Buffer, zeros: number, longForm: boolean): Buffer {
  let m = magnitude;
  while (m.length > 1 && m[0] === 0) m = m.subarray(1);
  const minimal = m[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m;
  return derTlv(0x02, Buffer.concat([Buffer.alloc(zeros), minimal]), longForm);
}

/** The SPKI of `key` (P-256, P-384, RSA or Ed25519), spelled as `s` says; {} gives the canonical DER. */
export function spellSpki(key: KeyObject, s: SpkiSpelling = {}): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const lf = s.longForm ?? false;
  const extra = Buffer.alloc(s.extraBytes ?? 0);
  const bitString = (content: Buffer) => derTlv(0x03, Buffer.concat([Buffer.from([0]), content, extra]), lf);
  switch (jwk.kty) {
    case 'EC': {
      const x = Buffer.from(jwk.x!, 'base64url');
      const y = Buffer.from(jwk.y!, 'base64url');
      const odd = y[y.length - 1]! & 1;
      const point =
        s.point === 'compressed' ? Buffer.concat([Buffer.from([2 + odd]), x])
          : s.point === 'hybrid' ? Buffer.concat([Buffer.from([6 + odd]), x, y])
            : Buffer.concat([Buffer.from([4]), x, y]);
      const algorithm = derTlv(0x30, Buffer.concat([hex(OID.ecPublicKey), hex(OID[jwk.crv as 'P-256' | 'P-384'])]), lf);
      return derTlv(0x30, Buffer.concat([algorithm, bitString(point)]), lf);
    }
    case 'RSA': {
      const zeros = s.integerZeros ?? 0;
      const rsaKey = derTlv(0x30, Buffer.concat([integer(Buffer.from(jwk.n!, 'base64url'), zeros, lf), integer(Buffer.from(jwk.e!, 'base64url'), zeros, lf)]), lf);
      const algorithm = derTlv(0x30, Buffer.concat([hex(OID.rsaEncryption), s.omitNull ? Buffer.alloc(0) : hex('0500')]), lf);
      return derTlv(0x30, Buffer.concat([algorithm, bitString(rsaKey)]), lf);
    }
    case 'OKP': {
      const algorithm = derTlv(0x30, hex(OID.ed25519), lf);
      return derTlv(0x30, Buffer.concat([algorithm, bitString(Buffer.from(jwk.x!, 'base64url'))]), lf);
    }
    default:
      throw new Error(`no spellings for key type ${String(jwk.kty)}`);
  }
}

/** A PKCS#10 request for the DNS names with `spki` exactly as given, signed by `privateKey`. */
export function rawCsr(spki: Uint8Array, names: readonly string[], privateKey: KeyObject): Buffer {
  const cn = derTlv(0x30, derTlv(0x31, derTlv(0x30, Buffer.concat([hex('0603550403'), derTlv(0x0c, Buffer.from(names[0]!))]))));
  const sans = derTlv(0x30, Buffer.concat(names.map((n) => derTlv(0x82, Buffer.from(n)))));
  const extension = derTlv(0x30, Buffer.concat([hex('0603551d11'), derTlv(0x04, sans)]));
  const extensionRequest = derTlv(0x30, Buffer.concat([hex('06092a864886f70d01090e'), derTlv(0x31, derTlv(0x30, extension))]));
  const info = derTlv(0x30, Buffer.concat([hex('020100'), cn, Buffer.from(spki), derTlv(0xa0, extensionRequest)]));
  const type = privateKey.asymmetricKeyType;
  const [algorithm, signature] =
    type === 'ec' ? [hex('300a06082a8648ce3d040302'), sign('sha256', info, privateKey)]
      : type === 'rsa' ? [hex('300d06092a864886f70d01010b0500'), sign('sha256', info, privateKey)]
        : [hex('300506032b6570'), sign(null, info, privateKey)];
  return derTlv(0x30, Buffer.concat([info, algorithm, derTlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

/** Other spellings of a public JWK's members: leading zero bytes (RSA n/e, EC x/y), stripped leading zeros, padding. */
export function spellJwk(
  jwk: Readonly<Record<string, string>>,
  s: { readonly zeros?: number; readonly padding?: boolean; readonly stripZeros?: boolean },
): Record<string, string> {
  const numeric = jwk.kty === 'RSA' ? ['n', 'e'] : jwk.kty === 'EC' ? ['x', 'y'] : ['x'];
  const out: Record<string, string> = { ...jwk };
  for (const m of numeric) {
    let bytes = Buffer.from(jwk[m]!, 'base64url');
    if (s.stripZeros) while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
    bytes = Buffer.concat([Buffer.alloc(s.zeros ?? 0), bytes]);
    out[m] = s.padding ? bytes.toString('base64') .replace(/\+/g, '-').replace(/\//g, '_') : bytes.toString('base64url');
  }
  return out;
}
