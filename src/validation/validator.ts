import type { Identifier } from '../core/identifier.js';
import type { IpRange } from '../core/ip-range.js';
import { AcmeProblem } from '../core/problem.js';
import type { ChallengeType } from '../core/status.js';
import { systemClock, type Clock } from '../core/clock.js';
import { checkCaa } from './caa.js';
import { validateDns01 } from './dns01.js';
import { validateDnsPersist01 } from './dns-persist01.js';
import { validateHttp01 } from './http01.js';
import type { OwnEndpoint } from './own-endpoint.js';
import type { NameResolver } from './resolver.js';
import { validateTlsAlpn01 } from './tls-alpn01.js';

/** One challenge to check: what the RA knows when a client says "ready". */
export interface ValidationRequest {
  readonly type: ChallengeType;
  /** The name or address being authorized (for a wildcard, the base name). */
  readonly identifier: Identifier;
  readonly wildcard: boolean;
  readonly token: string;
  readonly keyAuthorization: string;
  /** The account's URL (CAA accounturi, RFC 8657). */
  readonly accountUri: string;
}

/** What a CAA check at issuance needs of an authorization validated earlier. */
export type CaaRecheckRequest = Omit<ValidationRequest, 'token' | 'keyAuthorization'>;

/** Proves control of identifiers. `validate` throws AcmeProblem (connection, dns, tls, caa, …) when control is not shown. */
export interface ChallengeValidator {
  /** The challenge types this validator can check, and so the ones authorizations offer. */
  readonly challengeTypes: readonly ChallengeType[];
  validate(request: ValidationRequest): Promise<void>;
  /**
   * Present when CAA is checked: an authorization validated more than `afterMs` ago is checked
   * again before a certificate is issued from it. `check` throws AcmeProblem caa or dns.
   */
  readonly caaRecheck?: { readonly afterMs: number; check(request: CaaRecheckRequest): Promise<void> };
}

export interface ValidatorOptions {
  readonly resolver: NameResolver;
  /** Bound on each step (the challenge, and the CAA lookup beside it). */
  readonly timeoutMs: number;
  readonly http01Port: number;
  readonly tlsAlpn01Port: number;
  /**
   * certmint's own listener (own-endpoint.ts): http-01 and tls-alpn-01 never connect to it, so a
   * redirect or a name pointed at the CA cannot read /metrics into a problem detail. None when absent.
   */
  readonly isOwnEndpoint?: OwnEndpoint;
  /** validation.deniedNetworks: http-01 and tls-alpn-01 never connect there (nor, whatever this says, to link-local addresses). */
  readonly deniedNetworks?: readonly IpRange[];
  /** Only these types are offered; absent: http-01, dns-01, tls-alpn-01, and dns-persist-01 when dnsPersist is set. */
  readonly challengeTypes?: readonly ChallengeType[];
  /**
   * dns-persist-01 (draft-ietf-acme-dns-persist-01): what this CA calls itself in the record,
   * normalized, 1 to 10 names (validation.dnsPersist.issuerDomainNames). Absent or empty: not offered.
   */
  readonly dnsPersist?: { readonly issuerDomainNames: readonly string[] };
  /** persistUntil is compared with this clock's time. */
  readonly clock?: Clock;
  /** RFC 8659 CAA checking; off when absent (private zones rarely publish CAA). */
  readonly caa?: {
    readonly identities: readonly string[];
    /** Finalize checks CAA again for an authorization validated longer ago (validation.caa.recheckAfter). */
    readonly recheckAfterMs: number;
  };
  /**
   * A test setting, like Pebble's: the share (0–1) of validations that fail on purpose before
   * anything is checked, so client retry paths can be exercised. 0 in production.
   */
  readonly failureRate?: number;
  /** Random numbers in [0, 1) for failureRate; Math.random unless a test pins it. */
  readonly random?: () => number;
}

const CLASSIC_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];

/** The validator `certmint serve` uses: http-01, dns-01, tls-alpn-01 and dns-persist-01, then CAA when enabled. */
export function createValidator(o: ValidatorOptions): ChallengeValidator {
  const connecting = { timeoutMs: o.timeoutMs, resolver: o.resolver, isOwnEndpoint: o.isOwnEndpoint, deniedNetworks: o.deniedNetworks };
  const checks: Record<ChallengeType, (r: ValidationRequest) => Promise<void>> = {
    'http-01': (r) => validateHttp01(r.identifier, r.token, r.keyAuthorization, { port: o.http01Port, ...connecting }),
    'dns-01': (r) => validateDns01(r.identifier, r.keyAuthorization, { resolver: o.resolver, timeoutMs: o.timeoutMs }),
    'tls-alpn-01': (r) => validateTlsAlpn01(r.identifier, r.keyAuthorization, { port: o.tlsAlpn01Port, ...connecting }),
    'dns-persist-01': (r) =>
      validateDnsPersist01(r.identifier, r.wildcard, r.accountUri, {
        resolver: o.resolver,
        timeoutMs: o.timeoutMs,
        issuerDomainNames,
        clock: o.clock ?? systemClock,
      }),
  };
  const issuerDomainNames = o.dnsPersist?.issuerDomainNames ?? [];
  // Never offered without a name to put in the record, whatever challengeTypes says.
  const challengeTypes = (o.challengeTypes ?? [...CLASSIC_TYPES, 'dns-persist-01']).filter(
    (t) => t !== 'dns-persist-01' || issuerDomainNames.length > 0,
  );
  const failureRate = o.failureRate ?? 0;
  const random = o.random ?? Math.random;
  const caa = o.caa;
  const checkCaaOf = caa
    ? (r: CaaRecheckRequest): Promise<void> =>
        checkCaa(
          { identifier: r.identifier, wildcard: r.wildcard, accountUri: r.accountUri, method: r.type },
          { identities: caa.identities, resolver: o.resolver, timeoutMs: o.timeoutMs },
        )
    : undefined;
  return {
    challengeTypes,
    ...(caa && checkCaaOf ? { caaRecheck: { afterMs: caa.recheckAfterMs, check: checkCaaOf } } : {}),
    async validate(r) {
      if (!challengeTypes.includes(r.type)) {
        throw new AcmeProblem('malformed', `challenge type ${r.type} is not enabled on this server`);
      }
      if (failureRate > 0 && random() < failureRate) {
        throw new AcmeProblem(
          'incorrectResponse',
          `validation failed on purpose (validation.testFailureRate is ${failureRate}; a test setting, retry with a new order)`,
          { identifier: r.identifier },
        );
      }
      if (!checkCaaOf) return checks[r.type](r);
      // Side by side, as Boulder's VA does: the CAA lookups no longer add their round trips to every
      // validation's time. Both must pass; when both fail, the challenge's problem is the one told.
      const [challenge, caaCheck] = await Promise.allSettled([checks[r.type](r), checkCaaOf(r)]);
      if (challenge.status === 'rejected') throw challenge.reason;
      if (caaCheck.status === 'rejected') throw caaCheck.reason;
    },
  };
}
