import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { CaKeyUnavailableError } from '../ca/ca-key.js';
import { crlNumberOf } from '../ca/crl/info.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import {
  generationOfCrlIssuer,
  leafCrlIssuer,
  partitionCrlIssuer,
  partitionOfCrlIssuer,
  rootCrlIssuer,
  rootGenerationOfCrlIssuer,
  type CertificateLedger,
  type CrlIssuer,
  type CrlState,
} from '../ledger/ledger.js';
import { ledgerUnavailable } from '../ledger/storage-failure.js';
import { writeCrlFiles } from './crl-files.js';

export interface PublishedCrl {
  readonly issuer: CrlIssuer;
  readonly der: Uint8Array;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /**
   * When the next scheduled CRL replaces this one (crl.refresh after thisUpdate; a root's CRL at
   * half its validity), never after nextUpdate: how long HTTP caches may keep it.
   */
  readonly refreshAt: Date;
}

type SignedCrl = Omit<PublishedCrl, 'refreshAt'>;

export interface CrlPolicy {
  /** nextUpdate - thisUpdate of the leaf CRL (crl.validity). */
  readonly validityMs: number;
  /** A new leaf CRL at least this often (crl.refresh). */
  readonly refreshMs: number;
  /** nextUpdate - thisUpdate of the root's CRL of intermediates; renewed at half of it. */
  readonly rootValidityMs: number;
  /** How often the ledger's stale mark is checked (revocations by other processes). */
  readonly checkIntervalMs: number;
  /**
   * Least time between two builds of one leaf CRL that revocations ask for (crl.minInterval;
   * absent: 0). Revocations in between are committed and answered at once and share the next
   * build, at most this long after the one before. A build that is due (crl.refresh) or missing
   * never waits for it.
   */
  readonly minIntervalMs?: number;
  /**
   * crl.partitions (absent: 1): with N > 1 the active generation's partitions 0..N-1 are built
   * before a certificate names them, besides every partition the ledger has a CRL state for.
   */
  readonly partitions?: number;
}

export interface CrlPublisherOptions {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  /** <dataDir>/crl: DER and PEM files for a web server or sidecar. */
  readonly dir: string;
  readonly policy: CrlPolicy;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

/**
 * How long a CRL builder holds an issuer's lease. A 100,000-entry CRL is signed in about a second;
 * a builder that died is replaced after this.
 */
export const CRL_LEASE_MS = 120_000;

/** Another process holds the issuer's builder lease: it is signing that CRL now. */
export class CrlBuildBusy extends Error {
  override name = 'CrlBuildBusy';
  constructor(readonly issuer: CrlIssuer) {
    super(`another certmint instance is signing the ${issuer} CRL now; it is published within seconds (retry to see it)`);
  }
}

/**
 * Builds and publishes CRLs (RFC 5280 §5): each intermediate generation's CRL of the leaves it
 * signed, regenerated every crl.refresh and after a revocation (whichever process revoked: the
 * ledger's stale mark is checked every few seconds): at once after a quiet spell, else within
 * crl.minInterval of the build before (CA/B Forum BR 4.9.7 allows 24 hours), and each root's CRL of the
 * intermediates it issued (certmint ca rotate-root adds roots). A generation that no longer signs
 * leaves (certmint ca rotate-intermediate) keeps its CRL refreshed until the last certificate it
 * signed expires; after that its last CRL is still served. The latest CRLs are kept in memory for GET /crl and /crl/<n>, in the ledger, and
 * in dataDir/crl as files (intermediate.crl, intermediate-<n>.crl, root.crl, root-<n>.crl, and with
 * crl.partitions intermediate-<n>-partition-<p>.crl) replaced atomically. With crl.partitions each
 * partition is an issuer of its own here (number, lease, minInterval): a revocation marks only
 * its certificate's partition stale, so only that CRL is rebuilt.
 */
export class CrlPublisher {
  /** This process as a CRL builder (the ledger's lease names it). */
  private readonly holder = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  private readonly published = new Map<CrlIssuer, PublishedCrl>();
  private readonly running = new Map<CrlIssuer, Promise<PublishedCrl>>();
  /**
   * When this process last began building each leaf CRL for revocations (clock ms): crl.minInterval
   * counts from it. Builds that were due (crl.refresh, start) do not count: the first revocation
   * after a quiet spell is published at once.
   */
  private readonly lastBuildAt = new Map<CrlIssuer, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The refresh revocations asked for: one running, and one more wanted (any number of revocations make it one). */
  private refreshRunning: Promise<void> | undefined;
  private refreshWanted = false;
  /** A stale CRL held back by crl.minInterval: the refresh that publishes it when the interval is over. */
  private deferred: { readonly at: number; readonly timer: NodeJS.Timeout } | undefined;
  private stopped = false;
  /** Said once per outage: a CA key that cannot sign (its token lost) is retried quietly until it signs again. */
  private keyUnavailableSaid = false;

  constructor(private readonly o: CrlPublisherOptions) {}

  current(issuer: CrlIssuer): PublishedCrl | undefined {
    return this.published.get(issuer);
  }

  /** Publishes what is due now, then keeps checking every checkIntervalMs. */
  async start(): Promise<void> {
    await this.check();
    const tick = () => {
      this.check().catch((e: unknown) => {
        if (this.waitForKey(e)) return;
        const unavailable = ledgerUnavailable(e);
        // A shared ledger's database that is down is said by every request too: one line, no stack.
        if (unavailable) this.o.log.warn({ err: (e as Error).message }, `CRL check skipped: ${unavailable}; retrying at the next interval`);
        else this.o.log.error({ err: e }, 'CRL check failed; retrying at the next interval');
      });
    };
    this.timer = setInterval(tick, this.o.policy.checkIntervalMs);
    this.timer.unref();
  }

  /** Stops the checks and waits for a CRL being built, so its files are complete when this resolves. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.deferred) clearTimeout(this.deferred.timer);
    this.deferred = undefined;
    await Promise.allSettled([...this.running.values(), ...(this.refreshRunning ? [this.refreshRunning] : [])]);
  }

  /**
   * After a revocation in this process: publish without waiting for the next check, and without
   * making the revocation wait. Coalesced: one refresh runs, at most one more is wanted after it
   * however many revocations ask meanwhile, and a leaf CRL is rebuilt for revocations at most once
   * per crl.minInterval (checkIssuer). Each build reads and signs every unexpired revocation; one
   * per revocation let a client revoking twice a second keep a 100,000-entry CRL rebuilding back
   * to back. Resolves when the refreshes asked for so far are done (never rejects: failures are logged).
   */
  requestRefresh(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.refreshWanted = true;
    this.refreshRunning ??= this.runRefreshes().finally(() => {
      this.refreshRunning = undefined;
    });
    return this.refreshRunning;
  }

  private async runRefreshes(): Promise<void> {
    // Let the revocation's response go out first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.refreshWanted && !this.stopped) {
      this.refreshWanted = false;
      await this.check().catch((e: unknown) => {
        if (!this.waitForKey(e)) this.o.log.error({ err: e }, 'CRL refresh after a revocation failed');
      });
    }
  }

  /**
   * A CRL the CA key could not sign (CaKeyUnavailableError): nothing was stored and the ledger is
   * still stale, so a refresh is due once the key has its next chance. One warn line per outage.
   */
  private waitForKey(e: unknown): boolean {
    if (!(e instanceof CaKeyUnavailableError)) return false;
    if (!this.keyUnavailableSaid) {
      this.keyUnavailableSaid = true;
      this.o.log.warn({}, `CRL signing waits for the CA key: ${e.message}; retrying every ${e.retryAfterSeconds} s until it signs`);
    }
    this.deferUntil(this.o.clock.now().getTime() + e.retryAfterSeconds * 1000);
    return true;
  }

  /** Builds held back by crl.minInterval: a refresh when the interval is over (the periodic check may come first). */
  private deferUntil(at: number): void {
    if (this.stopped || (this.deferred && this.deferred.at <= at)) return;
    if (this.deferred) clearTimeout(this.deferred.timer);
    const timer = setTimeout(() => {
      this.deferred = undefined;
      void this.requestRefresh();
    }, Math.max(0, at - this.o.clock.now().getTime()));
    timer.unref();
    this.deferred = { at, timer };
  }

  /** Signs whatever is stale, due or missing; adopts a newer CRL another process signed. */
  async check(): Promise<void> {
    for (const { generation } of this.o.ca.generations) {
      const inUse = await this.inUse(generation);
      for (const issuer of await this.leafIssuers(generation)) {
        if (inUse) {
          await this.checkIssuer(issuer, this.o.policy.refreshMs);
        } else if (!this.published.has(issuer)) {
          // Retired and all its leaves expired: serve the last CRL it signed, sign no more.
          const state = await this.o.ledger.crlState(issuer, this.o.clock.now());
          if (state.der) await this.adopt(this.withRefresh(publishedOf(issuer, state)));
        }
      }
    }
    // Every root signs the CRL of the intermediates it issued for as long as it is loaded.
    // An external root's (certmint ca import) is its holder's to publish: certmint has no key for it.
    for (const { generation } of this.o.ca.roots.filter((r) => r.keyHeld)) {
      await this.checkIssuer(rootCrlIssuer(generation), this.o.policy.rootValidityMs / 2);
    }
    // A root whose key is kept offline (ca.offlineRoot): its CRL is signed by certmint crl generate
    // --root where the key is, into the ledger; this process serves the newest one it finds there.
    for (const { generation } of this.o.ca.roots.filter((r) => r.keyOffline)) {
      const issuer = rootCrlIssuer(generation);
      const state = await this.o.ledger.crlState(issuer, this.o.clock.now());
      if (state.der && (this.published.get(issuer)?.crlNumber ?? -1n) < (crlNumberOf(state.der) ?? state.crlNumber)) {
        await this.adopt(this.withRefresh(publishedOf(issuer, state)));
      }
    }
  }

  /**
   * A generation's leaf CRLs: the whole generation's (complete, no Issuing Distribution Point: what
   * leaves issued with crl.partitions 1 name) and each partition's. Partitions stay as long as the
   * ledger has them, so changing crl.partitions strands no certificate; the active generation's
   * 0..N-1 are there before their first certificate, so a new leaf's CRL is already served.
   */
  private async leafIssuers(generation: number): Promise<CrlIssuer[]> {
    const partitions = new Set(await this.o.ledger.crlPartitions(generation));
    const configured = this.o.policy.partitions ?? 1;
    if (generation === this.o.ca.activeGeneration && configured > 1) for (let p = 0; p < configured; p++) partitions.add(p);
    return [leafCrlIssuer(generation), ...[...partitions].sort((a, b) => a - b).map((p) => partitionCrlIssuer(generation, p))];
  }

  /** The active generation, or one that signed a certificate that has not expired yet. */
  private async inUse(generation: number): Promise<boolean> {
    if (generation === this.o.ca.activeGeneration) return true;
    const last = await this.o.ledger.lastNotAfter(generation);
    return last !== undefined && last.getTime() > this.o.clock.now().getTime();
  }

  private async checkIssuer(issuer: CrlIssuer, refreshMs: number): Promise<void> {
    // A build in flight has claimed the next number but not stored its CRL yet: let it finish,
    // then look again. It may have read the revoked list before a revocation that marked the
    // ledger stale after it claimed its number, and that revocation must still be published
    // (within crl.minInterval).
    for (let inFlight = this.running.get(issuer); inFlight; inFlight = this.running.get(issuer)) {
      await inFlight.catch(() => undefined);
    }
    const state = await this.o.ledger.crlState(issuer, this.o.clock.now());
    const now = this.o.clock.now().getTime();
    const due = !state.der || !state.thisUpdate || state.thisUpdate.getTime() + refreshMs <= now;
    // A root's CRL is marked stale by the revocation of a subordinate CA it signed (ca sign-subordinate).
    const stale = state.dirty;
    if (!due && stale) {
      // Revocations are published at most crl.minInterval after the previous build: the ones in
      // between are in the ledger already (answered, audited) and all go into the next build.
      const allowedAt = (this.lastBuildAt.get(issuer) ?? -Infinity) + (this.o.policy.minIntervalMs ?? 0);
      if (allowedAt > now) {
        this.deferUntil(allowedAt);
        return;
      }
    }
    if (due || stale) {
      if (!due) this.lastBuildAt.set(issuer, now);
      // Another instance holding the lease builds it; this one adopts it at a later check.
      await this.generate(issuer).catch((e: unknown) => {
        if (!(e instanceof CrlBuildBusy)) throw e;
      });
    } else if (state.der && this.published.get(issuer)?.crlNumber !== state.crlNumber) {
      const stored = this.withRefresh(publishedOf(issuer, state));
      // Another process may have claimed a number without storing its CRL yet: then the stored one
      // is older than the number says, and adopting it under that number would hide the newer one.
      if (this.published.get(issuer)?.crlNumber !== stored.crlNumber) await this.adopt(stored);
    }
  }

  /**
   * Signs a new CRL now (certmint crl generate; default: the active generation's). Concurrent
   * calls share one build.
   */
  generate(issuer: CrlIssuer = leafCrlIssuer(this.o.ca.activeGeneration)): Promise<PublishedCrl> {
    const inFlight = this.running.get(issuer);
    if (inFlight) return inFlight;
    const build = this.build(issuer).finally(() => this.running.delete(issuer));
    this.running.set(issuer, build);
    return build;
  }

  private async build(issuer: CrlIssuer): Promise<PublishedCrl> {
    // How long the build took, for the log: monotonic (performance.now), never the clock's time of day.
    const started = performance.now();
    const now = this.o.clock.now();
    const crlNumber = await this.o.ledger.claimCrlNumber(issuer, { holder: this.holder, now, until: new Date(now.getTime() + CRL_LEASE_MS) });
    if (crlNumber === undefined) throw new CrlBuildBusy(issuer);
    try {
      return await this.signAndStore(issuer, crlNumber, now, started);
    } catch (e) {
      // Stale again, and the lease free at once: the next check (here or elsewhere) builds it.
      await this.o.ledger.releaseCrlLease(issuer, this.holder).catch(() => undefined);
      throw e;
    }
  }

  private async signAndStore(issuer: CrlIssuer, crlNumber: bigint, now: Date, started: number): Promise<PublishedCrl> {
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const rootGeneration = rootGenerationOfCrlIssuer(issuer);
    const validity = rootGeneration !== undefined ? this.o.policy.rootValidityMs : this.o.policy.validityMs;
    const nextUpdate = new Date(thisUpdate.getTime() + validity);
    // A root's CRL lists the revoked subordinate CAs it signed (certmint's own intermediates are
    // retired by rotation, not revoked). A leaf CRL's entries travel as columns, read and encoded in
    // worker threads: a 100,000-entry CRL does not hold the event loop that serves ACME requests.
    // A partition's CRL (crl.partitions) lists only the leaves issued into it.
    const generation = generationOfCrlIssuer(issuer);
    const partition = partitionOfCrlIssuer(issuer);
    const entries =
      generation === undefined
        ? await this.o.ledger.subordinates.revokedSubordinates(now, rootGeneration!)
        : await this.o.ledger.listRevokedUnexpired(now, generation, partition);
    const request = { crlNumber, thisUpdate, nextUpdate, entries };
    const der =
      generation === undefined
        ? await this.o.ca.signIntermediateCrl(request, rootGeneration)
        : await this.o.ca.signCrl(request, generation, partition);
    this.keyUnavailableSaid = false;
    await this.o.ledger.recordCrl(issuer, { crlNumber, thisUpdate, nextUpdate, der });
    const crl = this.withRefresh({ issuer, der, crlNumber, thisUpdate, nextUpdate });
    await this.adopt(crl);
    this.o.log.info(
      { issuer, crlNumber: crlNumber.toString(), entries: Array.isArray(entries) ? entries.length : entries.count, ms: Math.round(performance.now() - started) },
      'published a CRL',
    );
    return crl;
  }

  private withRefresh(crl: SignedCrl): PublishedCrl {
    const refreshMs = rootGenerationOfCrlIssuer(crl.issuer) !== undefined ? this.o.policy.rootValidityMs / 2 : this.o.policy.refreshMs;
    return { ...crl, refreshAt: new Date(Math.min(crl.thisUpdate.getTime() + refreshMs, crl.nextUpdate.getTime())) };
  }

  private async adopt(crl: PublishedCrl): Promise<void> {
    const shown = this.published.get(crl.issuer);
    if (shown && shown.crlNumber >= crl.crlNumber) return;
    this.published.set(crl.issuer, crl);
    await mkdir(this.o.dir, { recursive: true });
    await writeCrlFiles(path.join(this.o.dir, crl.issuer), crl.der);
  }
}

/** The CRL the ledger stores, under the number it carries (the ledger's may be claimed already by a build in flight). */
function publishedOf(issuer: CrlIssuer, state: CrlState): SignedCrl {
  const der = state.der!;
  return { issuer, der, crlNumber: crlNumberOf(der) ?? state.crlNumber, thisUpdate: state.thisUpdate!, nextUpdate: state.nextUpdate! };
}
