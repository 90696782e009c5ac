import type { CaCertificates } from '../ca/types.js';
import type { CertificateLedger, SubordinateRecord } from '../ledger/ledger.js';

export interface GenerationStatus {
  readonly generation: number;
  /** The root that issued it. */
  readonly root: number;
  readonly active: boolean;
  readonly subject: string;
  readonly notAfter: string;
  /** Valid (not revoked), unexpired certificates it signed. */
  readonly liveCertificates: number;
}

export interface RootStatus {
  readonly root: number;
  /** Signs new intermediates (the newest root). */
  readonly newest: boolean;
  /** Root n >= 2: a cross certificate from root n-1 lets clients that trust only that one verify it. */
  readonly crossSigned: boolean;
  /** Present (true) only for an external root (certmint ca import): certmint holds no key for it. */
  readonly external?: true;
  /** Present (true) only for a root of certmint's whose key is kept off this machine (ca.offlineRoot). */
  readonly keyOffline?: true;
  readonly subject: string;
  readonly notAfter: string;
  /** Valid, unexpired certificates whose intermediate this root issued. */
  readonly liveCertificates: number;
}

/**
 * Every root and intermediate generation with how many live certificates chain to each: what
 * `certmint ca status --json` and the admin API's GET /api/v1/ca both show.
 */
export async function caGenerations(
  ca: CaCertificates,
  ledger: Pick<CertificateLedger, 'liveCertificatesByGeneration'>,
  now: Date,
): Promise<{ roots: RootStatus[]; intermediates: GenerationStatus[] }> {
  const live = await ledger.liveCertificatesByGeneration(now);
  const intermediates: GenerationStatus[] = ca.generations.map((g) => ({
    generation: g.generation,
    root: g.rootGeneration,
    active: g.generation === ca.activeGeneration,
    subject: g.subject,
    notAfter: g.notAfter.toISOString(),
    liveCertificates: live.get(g.generation) ?? 0,
  }));
  const newest = Math.max(...ca.roots.map((r) => r.generation));
  const roots: RootStatus[] = ca.roots.map((r) => ({
    root: r.generation,
    newest: r.generation === newest,
    crossSigned: r.crossPem !== undefined,
    ...(r.keyHeld || r.keyOffline ? {} : { external: true as const }),
    ...(r.keyOffline ? { keyOffline: true as const } : {}),
    subject: r.subject,
    notAfter: r.notAfter.toISOString(),
    liveCertificates: intermediates.filter((g) => g.root === r.generation).reduce((sum, g) => sum + g.liveCertificates, 0),
  }));
  return { roots, intermediates };
}

/** One subordinate CA as `certmint ca subordinates --json` and GET /api/v1/ca show it. */
export function subordinateJson(s: SubordinateRecord) {
  return {
    serial: s.serial, label: s.label, kind: s.kind, rootGeneration: s.rootGeneration, subject: s.subject,
    notBefore: s.notBefore.toISOString(), notAfter: s.notAfter.toISOString(), status: s.status,
    revokedAt: s.revokedAt?.toISOString() ?? null, revocationReason: s.revocationReason ?? null,
    permitted: s.constraints.permitted, excluded: s.constraints.excluded, createdAt: s.createdAt.toISOString(),
  };
}
