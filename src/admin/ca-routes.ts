// Before @peculiar/x509: its DI container needs the reflect polyfill at import time.
import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import type { FastifyInstance } from 'fastify';
import { nameConstraintsJson } from '../ca/name-constraints.js';
import type { CaCertificates } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import { leafCrlIssuer, rootCrlIssuer, type CrlIssuer, type LedgerReader } from '../ledger/ledger.js';
import { caGenerations, subordinateJson } from '../ra/ca-status.js';

export interface CaRoutesOptions {
  readonly ca: CaCertificates;
  readonly ledger: LedgerReader;
  readonly clock: Clock;
}

/** notBefore is not among a generation's loaded fields; its certificate has it (parsed once per generation). */
const notBeforeOf = (() => {
  const seen = new WeakMap<object, string>();
  return (key: object, der: Uint8Array | string): string => {
    let iso = seen.get(key);
    if (iso === undefined) {
      iso = new X509Certificate(typeof der === 'string' ? der : Uint8Array.from(der)).notBefore.toISOString();
      seen.set(key, iso);
    }
    return iso;
  };
})();

/** One CRL issuer as `certmint crl show` describes it, plus its age (from thisUpdate) in seconds. */
async function crlJson(ledger: LedgerReader, issuer: CrlIssuer, now: Date) {
  const state = await ledger.crlState(issuer, now);
  const published = state.der !== undefined && state.thisUpdate !== undefined;
  return {
    issuer,
    crlNumber: published ? state.crlNumber.toString() : null,
    thisUpdate: published ? state.thisUpdate!.toISOString() : null,
    nextUpdate: published ? (state.nextUpdate?.toISOString() ?? null) : null,
    ageSeconds: published ? Math.floor((now.getTime() - state.thisUpdate!.getTime()) / 1000) : null,
    sizeBytes: state.der?.length ?? null,
    // As crl show's "stale": a revocation (or a first CRL) is waiting for the next build.
    stale: state.dirty,
  };
}

/**
 * The CA as GET /api/v1/ca, the console's CA page and its overview describe it: the roots and intermediate
 * generations of `certmint ca status --json` (with notBefore and each intermediate's name
 * constraints), the subordinates of `ca subordinates --json`, and every CRL issuer's number and age;
 * `live`: the live certificates per generation, when the caller has them already.
 */
export async function caStatusJson(o: CaRoutesOptions, now: Date, live?: ReadonlyMap<number, number>) {
  // The overview hands in the live counts its cached summary already has: counting them is a scan of every live certificate.
  const counts = live ? { liveCertificatesByGeneration: async () => live } : o.ledger;
  const { roots, intermediates } = await caGenerations(o.ca, counts, now);
  const generations = new Map(o.ca.generations.map((g) => [g.generation, g]));
  const loadedRoots = new Map(o.ca.roots.map((r) => [r.generation, r]));
  // certmint signs the CRL of each root whose key it holds or keeps offline; an external root's holder signs its own.
  const crlIssuers = [
    ...o.ca.roots.filter((r) => r.keyHeld || r.keyOffline).map((r) => rootCrlIssuer(r.generation)),
    ...o.ca.generations.map((g) => leafCrlIssuer(g.generation)),
  ];
  return {
    roots: roots.map((r) => {
      const root = loadedRoots.get(r.root)!;
      return { ...r, notBefore: notBeforeOf(root, root.pem) };
    }),
    intermediates: intermediates.map((g) => {
      const generation = generations.get(g.generation)!;
      return { ...g, notBefore: notBeforeOf(generation, generation.der), nameConstraints: nameConstraintsJson(generation.nameConstraints) };
    }),
    nameConstraints: nameConstraintsJson(o.ca.nameConstraints),
    subordinates: (await o.ledger.subordinates.listSubordinates()).map(subordinateJson),
    crls: await Promise.all(crlIssuers.map((issuer) => crlJson(o.ledger, issuer, now))),
  };
}

/** GET /api/v1/ca: caStatusJson. Read-only: viewers see it all. */
export async function caRoutes(app: FastifyInstance, o: CaRoutesOptions): Promise<void> {
  app.get('/ca', async (_request, reply) => reply.send(await caStatusJson(o, o.clock.now())));
}
