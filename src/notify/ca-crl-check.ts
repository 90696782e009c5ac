import { X509Certificate } from 'node:crypto';
import type { CaCertificates } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import { leafCrlIssuer, partitionCrlIssuer, rootCrlIssuer, type CertificateLedger, type CrlIssuer, type OncePerSubjectEventInput, type OutboxLedger } from '../ledger/ledger.js';

export interface CaCrlCheckOptions {
  readonly ledger: Pick<CertificateLedger, 'crlState' | 'lastNotAfter' | 'crlPartitions'> & { readonly outbox: Pick<OutboxLedger, 'raiseOncePerSubject'> };
  readonly ca: CaCertificates;
  readonly clock: Clock;
  /** notifications.caExpiringWithin: the margin of the shipped CertmintCaCertificateExpiring alert. */
  readonly caExpiringWithinMs: number;
}

/**
 * Raises ca.expiring and crl.stale (docs/monitoring.md#notifications), run by the serve process on
 * the renewal-risk check's timer. The CA certificates in use are the active intermediate and the
 * root that issued it: a rotation replaces them, and the new ones get their own events when their
 * time comes. A CRL is stale once its nextUpdate has passed (the CertmintCrlStale alert's rule),
 * read from the ledger: the last CRL any instance signed for each issuer still published (the
 * publisher's own rule, crl/crl-publisher.ts). Each event goes out once per CA certificate and once
 * per stale CRL, however many instances check (the ledger's unique indexes, migration 0017).
 */
export class CaCrlCheck {
  constructor(private readonly o: CaCrlCheckOptions) {}

  /** One check: how many events it wrote (0 nearly always). */
  async checkOnce(): Promise<number> {
    const now = this.o.clock.now();
    const events = [...this.caExpiring(now), ...(await this.staleCrls(now))];
    return events.length === 0 ? 0 : this.o.ledger.outbox.raiseOncePerSubject(events);
  }

  private caExpiring(now: Date): OncePerSubjectEventInput[] {
    const { ca } = this.o;
    const until = now.getTime() + this.o.caExpiringWithinMs;
    const active = ca.generations.find((g) => g.generation === ca.activeGeneration);
    const root = ca.roots.find((r) => r.generation === active?.rootGeneration);
    // Under an external root (certmint ca import) certmint holds neither that root's key nor the
    // means to issue the next intermediate itself: the event says so instead of naming a command that would fail.
    const external = root !== undefined && !root.keyHeld && !root.keyOffline;
    // ca.offlineRoot: the command is right, but only where the root key is brought back.
    const offline = root?.keyOffline === true ? ' (with the root key brought back: ca.offlineRoot)' : '';
    const inUse = [
      ...(active
        ? [{
            role: 'intermediate',
            generation: active.generation,
            subject: active.subject,
            notAfter: active.notAfter,
            cert: active.der,
            run: external ? 'a new intermediate from the holder of the external root (docs/ca-operations.md)' : `certmint ca rotate-intermediate${offline}`,
          }]
        : []),
      ...(root
        ? [{
            role: 'root',
            generation: root.generation,
            subject: root.subject,
            notAfter: root.notAfter,
            cert: root.pem,
            run: external ? 'a new root from the holder of the external root (docs/ca-operations.md)' : `certmint ca rotate-root${offline}`,
          }]
        : []),
    ];
    return inUse
      .filter((c) => c.notAfter.getTime() <= until)
      .map((c) => ({
        type: 'ca.expiring',
        subject: `ca:${c.role}:${c.generation}`,
        payload: {
          role: c.role,
          generation: c.generation,
          subject: c.subject,
          serial: new X509Certificate(c.cert).serialNumber.toLowerCase(),
          notAfter: c.notAfter.toISOString(),
          expiresInSeconds: Math.floor((c.notAfter.getTime() - now.getTime()) / 1000),
          run: c.run,
        },
        createdAt: now,
      }));
  }

  private async staleCrls(now: Date): Promise<OncePerSubjectEventInput[]> {
    const events: OncePerSubjectEventInput[] = [];
    for (const { issuer, role, generation } of await this.publishedIssuers(now)) {
      const state = await this.o.ledger.crlState(issuer, now);
      if (!state.nextUpdate || !state.thisUpdate || state.nextUpdate.getTime() > now.getTime()) continue;
      events.push({
        type: 'crl.stale',
        subject: `crl:${issuer}:${state.crlNumber}`,
        payload: {
          issuer,
          role,
          generation,
          crlNumber: state.crlNumber.toString(),
          thisUpdate: state.thisUpdate.toISOString(),
          nextUpdate: state.nextUpdate.toISOString(),
          staleForSeconds: Math.floor((now.getTime() - state.nextUpdate.getTime()) / 1000),
        },
        createdAt: now,
      });
    }
    return events;
  }

  /**
   * The issuers whose CRL is kept fresh: the active intermediate, a retired one until its last
   * leaf expires, every root whose key certmint holds, and every root whose key is kept offline
   * (ca.offlineRoot): nothing here renews that CRL, so the operator must hear when it goes stale. A retired generation's last CRL is served
   * but no longer renewed: it going past nextUpdate is expected, not news.
   */
  private async publishedIssuers(now: Date): Promise<{ issuer: CrlIssuer; role: 'intermediate' | 'root'; generation: number }[]> {
    const { ca } = this.o;
    const out: { issuer: CrlIssuer; role: 'intermediate' | 'root'; generation: number }[] = [];
    for (const { generation } of ca.generations) {
      const last = generation === ca.activeGeneration ? undefined : await this.o.ledger.lastNotAfter(generation);
      if (generation === ca.activeGeneration || (last !== undefined && last.getTime() > now.getTime())) {
        out.push({ issuer: leafCrlIssuer(generation), role: 'intermediate', generation });
        // crl.partitions: each partition's CRL is kept fresh as the whole generation's is.
        for (const p of await this.o.ledger.crlPartitions(generation)) {
          out.push({ issuer: partitionCrlIssuer(generation, p), role: 'intermediate', generation });
        }
      }
    }
    for (const r of ca.roots) if (r.keyHeld || r.keyOffline) out.push({ issuer: rootCrlIssuer(r.generation), role: 'root', generation: r.generation });
    return out;
  }
}
