import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export type CsrKeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-1024' | 'ed25519' | 'ec-p521';

const ALGS: Record<CsrKeyKind, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'ec-p521': { name: 'ECDSA', namedCurve: 'P-521' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'rsa-1024': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ed25519: { name: 'Ed25519' },
};

/** A PKCS#10 request for the names, signed by a fresh key of the given kind. */
export async function makeCsr(
  names: readonly string[],
  o: { kind?: CsrKeyKind; commonName?: string | null; keys?: CryptoKeyPair; extraSans?: x509.JsonGeneralName[] } = {},
): Promise<{ der: Uint8Array; keys: CryptoKeyPair }> {
  const kind = o.kind ?? 'ec-p256';
  const algorithm = { ...ALGS[kind], ...(kind.startsWith('ec') ? { hash: 'SHA-256' } : {}) };
  const keys = o.keys ?? ((await crypto.subtle.generateKey(ALGS[kind], true, ['sign', 'verify'])) as CryptoKeyPair);
  const cn = o.commonName === undefined ? names[0] : o.commonName;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(cn ? { name: `CN=${cn}` } : {}),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([
      ...names.map((n) => ({ type: 'dns' as const, value: n })),
      ...(o.extraSans ?? []),
    ])],
  });
  return { der: new Uint8Array(csr.rawData), keys };
}
