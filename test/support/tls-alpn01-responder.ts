import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createSecureContext, createServer, type SecureContext, type Server } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { derToPem } from '../../src/ra/certificates.js';
import { ACME_IDENTIFIER_OID, ACME_TLS_ALPN_PROTOCOL, reverseDnsName } from '../../src/validation/tls-alpn01.js';

/** Ways a responder can get RFC 8737 wrong, for the validator's failure tests. */
export interface ChallengeCertOptions {
  /** SANs instead of the identifier alone. */
  readonly sans?: readonly { type: 'dns' | 'ip'; value: string }[];
  readonly critical?: boolean;
  /** Leave out the acmeIdentifier extension. */
  readonly omitExtension?: boolean;
  /** Hash this instead of the key authorization. */
  readonly digestOf?: string;
}

/** A client's side of tls-alpn-01: answers ALPN acme-tls/1 with a challenge certificate per SNI name. */
export interface TlsAlpn01Responder {
  readonly port: number;
  /** Serve the challenge certificate for identifier (an IP is served under its reverse-DNS SNI name). */
  set(identifier: { type: 'dns' | 'ip'; value: string }, keyAuthorization: string, o?: ChallengeCertOptions): Promise<void>;
  /** SNI names the validator asked for, in order. */
  readonly seen: string[];
  stop(): Promise<void>;
}

export interface TlsAlpn01ResponderOptions {
  /** The protocols the server offers; ["acme-tls/1"] unless a test wants a wrong one. */
  readonly alpn?: readonly string[];
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function startTlsAlpn01Responder(o: TlsAlpn01ResponderOptions = {}): Promise<TlsAlpn01Responder> {
  const contexts = new Map<string, SecureContext>();
  const seen: string[] = [];
  // tls.createServer wants a default certificate; SNICallback supplies the real ones.
  const fallbackPem = await challengeCertificate({ type: 'dns', value: 'fallback.invalid' }, 'none', {});
  const fallback = createSecureContext(fallbackPem);
  const server: Server = createServer(
    {
      ALPNProtocols: [...(o.alpn ?? [ACME_TLS_ALPN_PROTOCOL])],
      SNICallback: (servername, cb) => {
        seen.push(servername);
        cb(null, contexts.get(servername.toLowerCase()) ?? fallback);
      },
      ...fallbackPem,
    },
    (socket) => socket.end(),
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    async set(identifier, keyAuthorization, certOptions = {}) {
      const sni = identifier.type === 'ip' ? reverseDnsName(identifier.value) : identifier.value.toLowerCase();
      contexts.set(sni, createSecureContext(await challengeCertificate(identifier, keyAuthorization, certOptions)));
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A self-signed RFC 8737 challenge certificate and its key, PEM. */
async function challengeCertificate(
  identifier: { type: 'dns' | 'ip'; value: string },
  keyAuthorization: string,
  o: ChallengeCertOptions,
): Promise<{ key: string; cert: string }> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const digest = createHash('sha256').update(o.digestOf ?? keyAuthorization).digest();
  const extensions: x509.Extension[] = [
    new x509.SubjectAlternativeNameExtension((o.sans ?? [identifier]).map((n) => ({ type: n.type, value: n.value }))),
  ];
  if (!o.omitExtension) {
    // Authorization ::= OCTET STRING (SIZE (32)), DER inside the extension's OCTET STRING.
    extensions.push(new x509.Extension(ACME_IDENTIFIER_OID, o.critical ?? true, Buffer.concat([Buffer.from([0x04, 0x20]), digest])));
  }
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=acme-tls-alpn-01 challenge',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      keys,
      signingAlgorithm: ALG,
      extensions,
    },
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { key: derToPem(pkcs8, 'PRIVATE KEY'), cert: cert.toString('pem') };
}
