import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { writeFileAtomically } from '../core/atomic-file.js';
import { canonicalIpAddress } from '../core/ip-address.js';
import { newSerialHex } from '../ca/serial.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { Identifier } from '../core/identifier.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import { derToPem } from '../ra/certificates.js';
import { keyHashOfSpki } from '../ra/keys.js';

export interface ServerTlsMaterial {
  readonly key: string;
  /** Leaf then intermediate. */
  readonly cert: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
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
      chainPem: leaf.chainPem,
      issuerGeneration: leaf.issuerGeneration,
      identifiers,
      commonName: firstDns,
      keyHash: keyHashOfSpki(spki),
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      createdAt: now,
    });
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // After ca rotate-root, HTTPS clients that fetched /roots.pem before it trust only the old root:
    // the chain with the cross certificate verifies for them, and for those that trust the new
    // root (they stop at the intermediate), so certmint's own endpoint serves that one.
    const alternate = this.o.ca.generations.find((g) => g.generation === leaf.issuerGeneration)?.alternateChainPems[0];
    const cert = derToPem(leaf.der) + (alternate ?? leaf.chainPem);
    // Each file is replaced whole; a crash between the two leaves a new key beside the old
    // certificate, which load() sees does not match and so issues afresh.
    await writeFileAtomically(this.keyFile, key, { mode: 0o600 });
    await writeFileAtomically(this.certFile, cert, { mode: 0o644 });
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
      // node prints IPv6 SANs expanded ("0:0:0:0:0:0:0:1"); compare canonical forms.
      const canonical = (name: string) => canonicalIpAddress(name) ?? name.toLowerCase();
      const names = new Set(
        (x.subjectAltName ?? '').split(', ').map((s) => canonical(s.replace(/^(DNS|IP Address):/, ''))),
      );
      if (!this.o.hostnames.every((h) => names.has(canonical(h)))) return undefined;
      // After ca rotate-intermediate the server's own certificate moves to the new intermediate too.
      if (!x.checkIssued(new X509Certificate(this.o.ca.chainPem))) return undefined;
      if (!x.checkPrivateKey(createPrivateKey(key))) return undefined;
      return { key, cert, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
    } catch {
      return undefined;
    }
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_MS = 10 * 60_000;

/** Something whose TLS certificate can be replaced in place (node's https/tls Server). */
export interface SecureContextTarget {
  setSecureContext(options: { key: string; cert: string }): void;
}

/**
 * Keeps the server certificate fresh: at two thirds of its life a new one is issued and swapped
 * into the listening server with setSecureContext, so connections never see an expired one and
 * no restart is needed. A failed renewal is retried every ten minutes.
 */
export class ServerTlsRenewer {
  private timer: NodeJS.Timeout | undefined;
  private current: ServerTlsMaterial;

  constructor(
    private readonly tls: ServerTls,
    private readonly target: SecureContextTarget,
    initial: ServerTlsMaterial,
    private readonly clock: Clock,
    private readonly log: { info(o: object, m: string): void; error(o: object, m: string): void },
  ) {
    this.current = initial;
  }

  get material(): ServerTlsMaterial {
    return this.current;
  }

  start(): void {
    this.schedule(renewalTime(this.current).getTime() - this.clock.now().getTime());
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Issues a new certificate and serves it from now on. */
  async renewNow(): Promise<ServerTlsMaterial> {
    const next = await this.tls.issue();
    this.target.setSecureContext({ key: next.key, cert: next.cert });
    this.current = next;
    this.log.info({ notAfter: next.notAfter.toISOString() }, 'renewed the server TLS certificate');
    return next;
  }

  private schedule(delayMs: number): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.renewNow().then(
        () => this.start(),
        (e: unknown) => {
          this.log.error({ err: e }, 'server TLS certificate renewal failed; retrying in 10 minutes');
          this.schedule(RETRY_MS);
        },
      );
    }, Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    this.timer.unref();
  }
}
