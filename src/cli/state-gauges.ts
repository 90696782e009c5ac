import { stat } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { PublishedCrl } from '../crl/crl-publisher.js';
import { leafCrlIssuer, partitionCrlIssuer, rootCrlIssuer, type CertificateCounts, type CertificateLedger, type CrlIssuer } from '../ledger/ledger.js';

const DAY_MS = 86_400_000;
/** The `within` windows of certmint_certificates_expiring. */
export const EXPIRY_WINDOWS: readonly { readonly label: string; readonly ms: number }[] = [
  { label: '1d', ms: DAY_MS },
  { label: '7d', ms: 7 * DAY_MS },
  { label: '30d', ms: 30 * DAY_MS },
];

/** Where the scrape-time gauges read from. */
export interface StateGaugeSources {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  /** The CRL an issuer published last, if any. */
  readonly crl: (issuer: CrlIssuer) => PublishedCrl | undefined;
  /** The ledger's files whose sizes add up to certmint_ledger_size_bytes (SQLite: the database and its WAL). */
  readonly ledgerFiles: readonly string[];
  /** How long one read of the ledger's counts serves scrapes (default 5 s). */
  readonly countsCacheMs?: number;
  /** Monotonic milliseconds for that cache (default performance.now). */
  readonly monotonicMs?: () => number;
}

/**
 * The ledger's counts, read at most once per `ttlMs` however often Prometheus (or anyone who can
 * reach /metrics) scrapes, and shared by concurrent scrapes. A failed read is not kept.
 */
export class CachedCounts {
  private cached: { readonly at: number; readonly counts: Promise<CertificateCounts> } | undefined;

  constructor(
    private readonly read: () => Promise<CertificateCounts>,
    private readonly ttlMs: number,
    private readonly monotonicMs: () => number = () => performance.now(),
  ) {}

  get(): Promise<CertificateCounts> {
    const now = this.monotonicMs();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.counts;
    const counts = this.read();
    const entry = { at: now, counts };
    this.cached = entry;
    counts.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return counts;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0; // no WAL between checkpoints
    throw e;
  }
}

/** Gauges computed when Prometheus scrapes: the ledger's inventory, the CRLs, the CA certificates, the ledger's size. */
export function registerStateGauges(registry: Registry, s: StateGaugeSources): void {
  const registers = [registry];
  const counts = new CachedCounts(
    () => s.ledger.certificateCounts(s.clock.now(), EXPIRY_WINDOWS.map((w) => w.ms)),
    s.countsCacheMs ?? 5_000,
    s.monotonicMs,
  );
  const secondsUntil = (date: Date) => (date.getTime() - s.clock.now().getTime()) / 1000;

  new Gauge({
    name: 'certmint_certificates_expiring',
    help: 'Valid (not revoked) certificates that expire within 1, 7 or 30 days.',
    labelNames: ['within'],
    registers,
    async collect() {
      const { expiringWithin } = await counts.get();
      EXPIRY_WINDOWS.forEach((w, i) => this.set({ within: w.label }, expiringWithin[i] ?? 0));
    },
  });
  // Issue 22: the signal to alert on. A certificate counts once its ARI window has ended while it
  // is valid, unexpired and no newer certificate replaced it; a renewed one never does.
  new Gauge({
    name: 'certmint_certificates_renewal_overdue',
    help: 'Valid, unexpired certificates past the end of their ARI renewal window that no newer certificate replaced, per profile.',
    labelNames: ['profile'],
    registers,
    async collect() {
      const { renewalOverdue } = await counts.get();
      this.reset();
      // With none overdue, one series at 0: the metric exists for dashboards and absent() alerts.
      if (renewalOverdue.length === 0) this.set({ profile: 'default' }, 0);
      for (const p of renewalOverdue) this.set({ profile: p.profile }, p.count);
    },
  });
  new Gauge({
    name: 'certmint_certificates_expiring_unrenewed',
    help: 'Renewal-overdue certificates that expire within 1, 7 or 30 days.',
    labelNames: ['within'],
    registers,
    async collect() {
      const { expiringUnrenewedWithin } = await counts.get();
      EXPIRY_WINDOWS.forEach((w, i) => this.set({ within: w.label }, expiringUnrenewedWithin[i] ?? 0));
    },
  });
  new Gauge({
    name: 'certmint_certificates_revoked',
    help: 'Revoked certificates that have not expired yet (the entries on the CRLs).',
    registers,
    async collect() {
      this.set((await counts.get()).revokedUnexpired);
    },
  });

  // Every intermediate generation's CRL, each of its partitions (crl.partitions: 0-255, a map
  // lookup each), and every root's, once published.
  const crlIssuers = (): CrlIssuer[] => [
    ...s.ca.generations.flatMap((g) => [
      leafCrlIssuer(g.generation),
      ...Array.from({ length: 256 }, (_, p) => partitionCrlIssuer(g.generation, p)),
    ]),
    ...s.ca.roots.map((r) => rootCrlIssuer(r.generation)),
  ];
  /** A gauge per issuer of the CRL it published last, once there is one. */
  const crlGauge = (name: string, help: string, value: (crl: NonNullable<ReturnType<typeof s.crl>>) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['issuer'],
      registers,
      collect() {
        this.reset();
        for (const issuer of crlIssuers()) {
          const crl = s.crl(issuer);
          if (crl) this.set({ issuer }, value(crl));
        }
      },
    });
  crlGauge('certmint_crl_age_seconds', 'Seconds since the thisUpdate of the CRL each issuer published last.', (crl) => -secondsUntil(crl.thisUpdate));
  crlGauge(
    'certmint_crl_next_update_in_seconds',
    'Seconds until the nextUpdate of the CRL each issuer published last; negative once that CRL is stale.',
    (crl) => secondsUntil(crl.nextUpdate),
  );
  new Gauge({
    name: 'certmint_ca_certificate_expires_in_seconds',
    help: 'Seconds until each CA certificate (root or intermediate, by generation) expires.',
    labelNames: ['cert', 'generation'],
    registers,
    collect() {
      this.reset();
      for (const r of s.ca.roots) this.set({ cert: 'root', generation: r.generation }, secondsUntil(r.notAfter));
      for (const g of s.ca.generations) this.set({ cert: 'intermediate', generation: g.generation }, secondsUntil(g.notAfter));
    },
  });
  // Issue 24: the subordinate CAs the roots signed for Vault, istiod, … expire on their own
  // schedule; nothing in certmint renews them, so each one is a series to alert on.
  new Gauge({
    name: 'certmint_subordinate_not_after_seconds',
    help: 'notAfter (Unix seconds) of each valid, unexpired subordinate CA (ca sign-subordinate, ca issue-istio-ca).',
    labelNames: ['label', 'serial', 'kind'],
    registers,
    async collect() {
      const now = s.clock.now().getTime();
      const live = (await s.ledger.subordinates.listSubordinates()).filter((c) => c.status === 'valid' && c.notAfter.getTime() > now);
      this.reset();
      for (const c of live) this.set({ label: c.label, serial: c.serial, kind: c.kind }, c.notAfter.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'certmint_ledger_size_bytes',
    help: 'Size of the ledger on disk (SQLite: the database file plus its write-ahead log).',
    registers,
    async collect() {
      const sizes = await Promise.all(s.ledgerFiles.map(fileSize));
      this.set(sizes.reduce((a, b) => a + b, 0));
    },
  });
}
