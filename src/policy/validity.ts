import { AcmeProblem } from '../core/problem.js';

export interface ValidityPolicy {
  readonly defaultLifetimeMs: number;
  readonly maxLifetimeMs: number;
}

/** Clock skew allowance for notBefore: leaves are backdated this much (as Boulder and step-ca do). */
export const BACKDATE_MS = 60_000;

function parseTime(field: string, v: unknown): Date | undefined {
  if (v === undefined) return undefined;
  const d = typeof v === 'string' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw new AcmeProblem('malformed', `"${field}" must be an RFC 3339 date-time string`);
  }
  return d;
}

/**
 * newOrder notBefore/notAfter (RFC 8555 §7.4). Honoured when inside the policy; refused with a
 * clear malformed problem otherwise, never silently ignored (cert-manager sends notAfter when its
 * duration feature is on).
 */
export function checkRequestedValidity(
  now: Date,
  notBeforeInput: unknown,
  notAfterInput: unknown,
  policy: ValidityPolicy,
): { notBefore: Date | undefined; notAfter: Date | undefined } {
  const notBefore = parseTime('notBefore', notBeforeInput);
  const notAfter = parseTime('notAfter', notAfterInput);
  const start = notBefore ?? now;
  if (notBefore && notBefore.getTime() < now.getTime() - BACKDATE_MS) {
    throw new AcmeProblem('malformed', `notBefore ${notBefore.toISOString()} is in the past`);
  }
  if (notBefore && notBefore.getTime() > now.getTime() + policy.maxLifetimeMs) {
    throw new AcmeProblem('malformed', `notBefore ${notBefore.toISOString()} is too far in the future`);
  }
  if (notAfter) {
    if (notAfter.getTime() <= start.getTime()) {
      throw new AcmeProblem('malformed', `notAfter ${notAfter.toISOString()} must be after notBefore/now`);
    }
    if (notAfter.getTime() - start.getTime() > policy.maxLifetimeMs) {
      const days = Math.floor(policy.maxLifetimeMs / 86_400_000);
      throw new AcmeProblem(
        'malformed',
        `notAfter ${notAfter.toISOString()} asks for a lifetime longer than this server's maximum of ${days} days`,
      );
    }
  }
  return { notBefore, notAfter };
}

/**
 * The leaf's validity at issuance: requested times when given, otherwise the default lifetime.
 * notBefore is backdated for clients with slow clocks, but never so far that notAfter − notBefore
 * exceeds the lifetime: a certificate's whole validity period stays within the policy.
 */
export function leafValidity(
  now: Date,
  requested: { notBefore: Date | undefined; notAfter: Date | undefined },
  policy: ValidityPolicy,
): { notBefore: Date; notAfter: Date } {
  const start = requested.notBefore && requested.notBefore > now ? requested.notBefore : now;
  if (requested.notAfter) {
    const notBefore = Math.max(start.getTime() - BACKDATE_MS, requested.notAfter.getTime() - policy.maxLifetimeMs);
    return { notBefore: new Date(notBefore), notAfter: requested.notAfter };
  }
  const notBefore = new Date(start.getTime() - BACKDATE_MS);
  return { notBefore, notAfter: new Date(notBefore.getTime() + policy.defaultLifetimeMs) };
}
