import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import type { Identifier } from '../core/identifier.js';
import type { IpRange } from '../core/ip-range.js';
import { AcmeProblem, type ProblemType } from '../core/problem.js';
import { addressGuard } from './address-guard.js';
import type { OwnEndpoint } from './own-endpoint.js';
import type { NameResolver } from './resolver.js';

export interface TlsAlpn01Options {
  /** 443 unless an operator's private network says otherwise (validation.tlsAlpn01Port). */
  readonly port: number;
  /** Bound on the whole validation: the DNS lookup, every connection attempt and the handshake. */
  readonly timeoutMs: number;
  readonly resolver: NameResolver;
  /** certmint's own listener: never connected to. */
  readonly isOwnEndpoint?: OwnEndpoint;
  /** validation.deniedNetworks: never connected to, like link-local addresses (address-guard.ts). */
  readonly deniedNetworks?: readonly IpRange[];
}

/** RFC 8737 §6.2: the ALPN protocol a tls-alpn-01 responder must negotiate. */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';
/** RFC 8737 §6.1: id-pe-acmeIdentifier. */
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

/**
 * RFC 8737 §3: connect to the identifier on the tls-alpn-01 port with SNI and ALPN "acme-tls/1";
 * the responder must negotiate that protocol and present a certificate whose only SAN is the
 * identifier and whose critical acmeIdentifier extension holds SHA-256(key authorization).
 * IP identifiers (RFC 8738 §6) are sent as their reverse-DNS name in SNI.
 * The certificate is not checked against any trust anchor: it is self-signed by design.
 */
export async function validateTlsAlpn01(identifier: Identifier, keyAuthorization: string, o: TlsAlpn01Options): Promise<void> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), o.timeoutMs);
  const fail = (type: ProblemType, detail: string): AcmeProblem => new AcmeProblem(type, detail, { identifier });
  try {
    let addresses: string[];
    try {
      addresses = await o.resolver.resolve(identifier.value, controller.signal);
    } catch (e) {
      if (e instanceof AcmeProblem) throw fail(e.type, e.detail);
      throw e;
    }
    const servername = identifier.type === 'ip' ? reverseDnsName(identifier.value) : identifier.value;
    let der: Buffer | undefined;
    let lastError: AcmeProblem | undefined;
    const refused = addressGuard(o.deniedNetworks);
    for (const address of addresses) {
      if (o.isOwnEndpoint?.(address, o.port)) {
        // Another address of the name may be the applicant's; try it.
        lastError = fail('connection', `${endpointOf(address, o.port)} is this CA's own endpoint; tls-alpn-01 validation does not connect to it`);
        continue;
      }
      // Checked on the address handshake() connects to: no second lookup to rebind.
      const refusal = refused(address);
      if (refusal !== undefined) {
        lastError = fail('connection', `${endpointOf(address, o.port)} ${refusal} (tls-alpn-01)`);
        continue;
      }
      try {
        der = await handshake(address, servername, o.port, controller.signal, fail);
        break;
      } catch (e) {
        lastError = e as AcmeProblem;
        // Another address may answer; a handshake that got anywhere is final.
        if (controller.signal.aborted || !(e instanceof ConnectFailure)) break;
      }
    }
    if (der === undefined) throw lastError ?? fail('dns', `DNS problem: no addresses found for ${identifier.value}`);
    checkCertificate(der, identifier, keyAuthorization, fail);
  } finally {
    clearTimeout(deadline);
  }
}

/** RFC 8738 §6: 1.2.3.4 → 4.3.2.1.in-addr.arpa; IPv6 → 32 nibbles reversed under ip6.arpa. */
export function reverseDnsName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${[...ipv6Hex(ip)].reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address. */
function ipv6Hex(ip: string): string {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  // Anchored on the last ":" (an unanchored /(\d+)\.…$/ rescans every run of digits from each start).
  const tailAt = text.lastIndexOf(':') + 1;
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text.slice(tailAt));
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tailAt)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => g.padStart(4, '0')).join('');
}

class ConnectFailure extends AcmeProblem {}

const CONNECT_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'Host unreachable',
  ENETUNREACH: 'Network unreachable',
  EADDRNOTAVAIL: 'Address not available',
};

/** One TLS handshake; resolves with the peer's certificate (DER). Leaves no socket open when it settles. */
function handshake(
  address: string,
  servername: string,
  port: number,
  signal: AbortSignal,
  fail: (type: ProblemType, detail: string) => AcmeProblem,
): Promise<Buffer> {
  const endpoint = endpointOf(address, port);
  return new Promise((resolve, reject) => {
    let connected = false;
    let settled = false;
    const socket: TLSSocket = connect({
      host: address,
      port,
      servername,
      ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL],
      minVersion: 'TLSv1.2',
      // The challenge certificate is self-signed; what proves control is its content, checked below.
      rejectUnauthorized: false,
    });
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      outcome();
    };
    const onAbort = (): void =>
      finish(() =>
        reject(fail('connection', `Timeout during ${connected ? 'the TLS handshake with' : 'connect to'} ${endpoint} (tls-alpn-01)`)),
      );
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('secureConnect', () => {
      const protocol = socket.alpnProtocol;
      if (protocol !== ACME_TLS_ALPN_PROTOCOL) {
        finish(() =>
          reject(
            fail(
              'unauthorized',
              `Cannot negotiate ALPN protocol "${ACME_TLS_ALPN_PROTOCOL}" for tls-alpn-01 challenge with ${endpoint} (server chose ${protocol ? `"${protocol}"` : 'none'})`,
            ),
          ),
        );
        return;
      }
      const cert = socket.getPeerCertificate();
      const raw = 'raw' in cert ? cert.raw : undefined;
      if (!raw) {
        finish(() => reject(fail('unauthorized', `No certificate from ${endpoint} for tls-alpn-01 challenge`)));
        return;
      }
      finish(() => resolve(raw));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (!connected && CONNECT_ERRORS[code]) {
        finish(() => reject(new ConnectFailure('connection', `Error connecting to ${endpoint} (tls-alpn-01): ${CONNECT_ERRORS[code]}`)));
        return;
      }
      const type: ProblemType = connected && code !== 'ECONNRESET' ? 'tls' : 'connection';
      finish(() => reject(fail(type, `${connected ? 'TLS error with' : 'Error connecting to'} ${endpoint} (tls-alpn-01): ${err.message}`)));
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function endpointOf(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** DER of OCTET STRING (SIZE (32)) holding the digest: the extension's value per RFC 8737 §3. */
function expectedExtensionValue(keyAuthorization: string): Buffer {
  return Buffer.concat([Buffer.from([0x04, 0x20]), createHash('sha256').update(keyAuthorization).digest()]);
}

function checkCertificate(
  der: Buffer,
  identifier: Identifier,
  keyAuthorization: string,
  fail: (type: ProblemType, detail: string) => AcmeProblem,
): void {
  const wrong = (why: string): AcmeProblem => fail('unauthorized', `Incorrect validation certificate for tls-alpn-01 challenge: ${why}`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(new Uint8Array(der));
  } catch (e) {
    throw wrong(`it does not parse (${(e as Error).message})`);
  }
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const expectedType = identifier.type === 'ip' ? 'ip' : 'dns';
  const only = names.length === 1 ? names[0]! : undefined;
  if (!only || only.type !== expectedType || !sameName(only.value, identifier)) {
    // The names themselves are not quoted: the identifier may name an internal host, whose
    // certificate's names are not the applicant's to read through the CA.
    const has = names.some((n) => n.type === expectedType && sameName(n.value, identifier));
    const found =
      names.length === 0
        ? 'it has none'
        : `it has ${names.length} (${has ? `${expectedType}:${identifier.value} and ${names.length - 1} other` : `none of them ${expectedType}:${identifier.value}`})`;
    throw wrong(`the only subjectAltName must be ${expectedType}:${identifier.value}; ${found}`);
  }
  const ext = cert.extensions.find((e) => e.type === ACME_IDENTIFIER_OID);
  if (!ext) throw wrong(`the acmeIdentifier extension (${ACME_IDENTIFIER_OID}) is missing`);
  if (!ext.critical) throw wrong('the acmeIdentifier extension must be critical');
  const expected = expectedExtensionValue(keyAuthorization);
  const got = Buffer.from(ext.value);
  if (!got.equals(expected)) {
    throw fail(
      'incorrectResponse',
      `Incorrect validation certificate for tls-alpn-01 challenge: the acmeIdentifier extension holds ${got.toString('hex').slice(4)}, expected SHA-256 of the key authorization ${expected.toString('hex').slice(4)}`,
    );
  }
}

function sameName(value: string, identifier: Identifier): boolean {
  if (identifier.type === 'dns') return value.toLowerCase() === identifier.value.toLowerCase();
  // @peculiar/x509 prints IPv6 SANs in its own spelling; compare the addresses, not the text.
  return ipBytes(value)?.equals(ipBytes(identifier.value) ?? Buffer.alloc(0)) ?? false;
}

function ipBytes(ip: string): Buffer | undefined {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (isIP(ip) === 6) return Buffer.from(ipv6Hex(ip), 'hex');
  return undefined;
}
