import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its providers through tsyringe, which needs the Reflect polyfill first.
import * as x509 from '@peculiar/x509';

export interface SelfSignedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A throwaway self-signed P-256 certificate for `names` (DNS names and IP addresses), valid for a day. */
export async function selfSignedCertificate(names: readonly string[]): Promise<SelfSignedCertificate> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${names[0] ?? 'test'}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: algorithm,
      keys,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n })),
        ),
      ],
    },
    // x509 types its provider as the DOM Crypto; Node's webcrypto is the same API.
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const body = pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { certPem: cert.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n` };
}
