// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { caKeySpec, generateCaKeyPair } from '../../src/ca/ca-keys.js';

/**
 * An external root (a corporate CA) made in the test, certifying the intermediate request of
 * `certmint ca csr` (checked first), as `ca import` receives it: the signed intermediate and the root.
 */
export async function signedByCorporateRoot(csrPem: string): Promise<{ root: x509.X509Certificate; signed: x509.X509Certificate }> {
  const now = Date.now();
  const rootKeys = await generateCaKeyPair(caKeySpec('ecdsa-p256'), globalThis.crypto);
  const caExtensions = (pathLength?: number) => [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
  ];
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=Corp Root', keys: rootKeys, notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000 * 365),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, extensions: caExtensions(),
  });
  const request = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await request.verify())) throw new Error('the intermediate request does not verify with its own key');
  const signed = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: request.subjectName, issuer: root.subjectName, publicKey: request.publicKey, signingKey: rootKeys.privateKey,
    notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000 * 180), signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: caExtensions(0),
  });
  return { root, signed };
}
