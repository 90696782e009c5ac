import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { newSerialHex } from '../ca/serial.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { Identifier } from '../core/identifier.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { derToPem } from '../ra/certificates.js';

export interface ServerTlsMaterial {
  readonly key: string;
  /** Leaf then intermediate. */
  readonly cert: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/** When a server certificate should be replaced: after two thirds of its lifetime (as ARI suggests). */
export function renewalTime(m: Pick<ServerTlsMaterial, 'notBefore' | 'notAfter'>): Date {
  const life = m.notAfter.getTime() - m.notBefore.getTime();
  return new Date(m.notBefore.getTime() + (life * 2) / 3);
}

/**
 * The HTTPS certificate of certmint itself, issued by its own intermediate for server.tls.hostnames
 * and recorded in the ledger like any other. Kept in <dataDir>/tls so a restart reuses it.
 */
export class ServerTls {
  private readonly keyFile: string;
  private readonly certFile: string;

  constructor(
    private readonly o: {
      dataDir: string;
      hostnames: readonly string[];
      lifetimeMs: number;
      ca: CertificateAuthority;
      ledger: CertificateLedger;
      clock: Clock;
    },
  ) {
    const dir = path.join(o.dataDir, 'tls');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.keyFile = path.join(dir, 'server.key.pem');
    this.certFile = path.join(dir, 'server.pem');
  }

  /** The stored certificate if it is still before its renewal time and names the configured hosts, else a new one. */
  async current(): Promise<ServerTlsMaterial> {
    const stored = this.load();
    if (stored && this.clockNow() < renewalTime(stored).getTime()) return stored;
    return this.issue();
  }

  async issue(): Promise<ServerTlsMaterial> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const identifiers: Identifier[] = this.o.hostnames.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h }));
    const now = this.o.clock.now();
    const firstDns = identifiers.find((i) => i.type === 'dns')?.value;
    const leaf = await this.o.ca.issueLeaf({
      spki,
      identifiers,
      ...(firstDns ? { commonName: firstDns } : {}),
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + this.o.lifetimeMs),
      serialHex: newSerialHex(),
    });
    await this.o.ledger.insertCertificate({
      serial: leaf.serialHex,
      accountId: undefined,
      orderId: undefined,
      der: leaf.der,
      chainPem: this.o.ca.chainPem,
      identifiers,
      commonName: firstDns,
      keyHash: createHash('sha256').update(spki).digest('hex'),
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      createdAt: now,
    });
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const cert = derToPem(leaf.der) + this.o.ca.chainPem;
    writeAtomic(this.keyFile, key, 0o600);
    writeAtomic(this.certFile, cert, 0o644);
    return { key, cert, notBefore: leaf.notBefore, notAfter: leaf.notAfter };
  }

  private clockNow(): number {
    return this.o.clock.now().getTime();
  }

  private load(): ServerTlsMaterial | undefined {
    try {
      const key = readFileSync(this.keyFile, 'utf8');
      const cert = readFileSync(this.certFile, 'utf8');
      const x = new X509Certificate(cert);
      const names = new Set(
        (x.subjectAltName ?? '').split(', ').map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()),
      );
      const wanted = this.o.hostnames.map((h) => h.toLowerCase().replace(/^\[|\]$/g, ''));
      if (!wanted.every((h) => names.has(h) || names.has(expandIpv6(h)))) return undefined;
      if (!x.checkIssued(new X509Certificate(this.o.ca.chainPem))) return undefined;
      return { key, cert, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
    } catch {
      return undefined;
    }
  }
}

/** node prints IPv6 SANs fully expanded ("0:0:0:0:0:0:0:1"); config says "::1". */
function expandIpv6(h: string): string {
  if (isIP(h) !== 6) return h;
  const [head, tail] = h.split('::') as [string, string | undefined];
  const a = head ? head.split(':') : [];
  const b = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - a.length - b.length).fill('0');
  return [...a, ...fill, ...b].map((p) => p.replace(/^0+(?=.)/, '')).join(':');
}
