import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { writeFileAtomically } from '../core/atomic-file.js';
import { canonicalIpAddress } from '../core/ip-address.js';
import { CaKeyUnavailableError } from '../ca/ca-key.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { PublicKeyInfo } from '../core/public-key.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';

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

/** What ServerTls needs of the registration authority: the issuance of certmint's own certificate. */
export type ServerCertificateIssuer = Pick<RegistrationAuthority, 'issueServerCertificate' | 'serverKeyType'>;

/**
 * The HTTPS certificate of certmint itself for server.tls.hostnames, issued through ra/ like any
 * other (profile, validity, ledger: ra/server-certificate.ts). Kept in <dataDir>/tls so a restart
 * reuses it; the key never leaves this process and that directory.
 */
export class ServerTls {
  private readonly keyFile: string;
  private readonly certFile: string;

  constructor(
    private readonly o: {
      dataDir: string;
      hostnames: readonly string[];
      lifetimeMs: number;
      ra: ServerCertificateIssuer;
      /** The active intermediate: a stored certificate from another one is replaced. */
      ca: Pick<CertificateAuthority, 'chainPem'>;
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
    const { privateKey, publicKey, info } = newServerKey(this.o.ra.serverKeyType());
    const issued = await this.o.ra.issueServerCertificate({
      spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
      key: info,
      identifiers: this.o.hostnames.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h })),
      lifetimeMs: this.o.lifetimeMs,
    });
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // Each file is replaced whole; a crash between the two leaves a new key beside the old
    // certificate, which load() sees does not match and so issues afresh.
    await writeFileAtomically(this.keyFile, key, { mode: 0o600 });
    await writeFileAtomically(this.certFile, issued.certPem, { mode: 0o644 });
    return { key, cert: issued.certPem, notBefore: issued.notBefore, notAfter: issued.notAfter };
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

/** A new key of the type the profile accepts: P-256 (small, fast handshakes) when it may. */
function newServerKey(type: 'ecdsa' | 'rsa' | 'ed25519'): { privateKey: KeyObject; publicKey: KeyObject; info: PublicKeyInfo } {
  switch (type) {
    case 'ecdsa':
      return { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }), info: { kind: 'ec', curve: 'P-256' } };
    case 'rsa':
      return { ...generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }), info: { kind: 'rsa', bits: 2048, exponent: 65537n } };
    case 'ed25519':
      return { ...generateKeyPairSync('ed25519'), info: { kind: 'ed25519' } };
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_MS = 10 * 60_000;
/** While the CA key's token reconnects: soon, but not in a tight loop. */
const KEY_UNAVAILABLE_RETRY_MS = 30_000;

/** Something whose TLS certificate can be replaced in place (node's https/tls Server). */
export interface SecureContextTarget {
  setSecureContext(options: { key: string; cert: string }): void;
}

/**
 * The HTTPS listeners that serve the server's certificate, as one target: a renewal reaches each.
 * setSecureContext replaces the whole context, so a listener's client CA (the admin listener's
 * admin issuer, admin.clientCertificates) is given again with the new key and certificate, or
 * every client certificate would stop verifying after the first renewal.
 */
export function secureContextTargets(listeners: readonly { server: import('node:https').Server | undefined; ca?: string | undefined }[]): SecureContextTarget {
  const targets = listeners.filter((l) => l.server !== undefined);
  return { setSecureContext: (c) => targets.forEach(({ server, ca }) => server!.setSecureContext(ca ? { ...c, ca: [ca] } : c)) };
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
    private readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void },
    /**
     * server.workers > 1: every worker renews from the same files. Each waits `staggerMs` past the
     * renewal time, and takes the pair another worker stored since instead of issuing its own.
     */
    private readonly shared?: { readonly staggerMs: number },
  ) {
    this.current = initial;
  }

  get material(): ServerTlsMaterial {
    return this.current;
  }

  start(): void {
    this.schedule(renewalTime(this.current).getTime() - this.clock.now().getTime() + (this.shared?.staggerMs ?? 0));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Issues a new certificate and serves it from now on. */
  async renewNow(): Promise<ServerTlsMaterial> {
    return this.serve(await this.tls.issue());
  }

  /** What the timer runs: renewNow, or among workers the stored pair when another worker renewed it first. */
  async renewDue(): Promise<ServerTlsMaterial> {
    if (!this.shared) return this.renewNow();
    return this.serve(await this.tls.current());
  }

  private serve(next: ServerTlsMaterial): ServerTlsMaterial {
    this.target.setSecureContext({ key: next.key, cert: next.cert });
    const renewed = next.cert !== this.current.cert;
    this.current = next;
    if (renewed) this.log.info({ notAfter: next.notAfter.toISOString() }, 'renewed the server TLS certificate');
    return next;
  }

  private schedule(delayMs: number): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.renewDue().then(
        () => this.start(),
        (e: unknown) => {
          if (e instanceof CaKeyUnavailableError) {
            // A token being reconnected: a condition that passes, one line and no stack.
            const retryMs = Math.max(e.retryAfterSeconds * 1000, KEY_UNAVAILABLE_RETRY_MS);
            this.log.warn({ retryInMs: retryMs }, `server TLS certificate renewal waits for the CA key: ${e.message}; retrying in ${Math.ceil(retryMs / 1000)} s`);
            this.schedule(retryMs);
            return;
          }
          this.log.error({ err: e }, 'server TLS certificate renewal failed; retrying in 10 minutes');
          this.schedule(RETRY_MS);
        },
      );
    }, Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    this.timer.unref();
  }
}
