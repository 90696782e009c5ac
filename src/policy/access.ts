import { BlockList, isIP, isIPv4 } from 'node:net';
import type { Identifier } from '../core/identifier.js';
import { canonicalIpAddress } from '../core/ip-address.js';
import { AcmeProblem, type SubProblem } from '../core/problem.js';
import type { ChallengeType } from '../core/status.js';

/** A named access policy as the config states it (`policies.<name>`). */
export interface AccessPolicyConfig {
  /** Identifier patterns an account may order; empty: any. */
  readonly allow: readonly string[];
  /** Patterns it may never order; deny wins over allow. */
  readonly deny: readonly string[];
  /** Challenge types offered; empty: every enabled one. */
  readonly challenges: readonly ChallengeType[];
  /** The longest certificate lifetime; undefined: policy.maxLifetime. */
  readonly maxLifetimeMs?: number;
  /** Profiles its accounts may choose; empty or absent: all. */
  readonly profiles?: readonly string[];
  /** Authorizations for allowed names are valid without a challenge (while the account's EAB key holds). */
  readonly preAuthorized?: boolean;
  /** With preAuthorized: wildcard identifiers too. */
  readonly preAuthorizedWildcards?: boolean;
}

/**
 * Who may get which certificate. Patterns: an exact name (`db.internal`), every name under a
 * suffix (`*.svc.cluster.local`, any depth), an IP address, or an IP network in CIDR form.
 * A wildcard identifier matches a suffix pattern when the whole wildcard lies under it. A wildcard
 * is also refused when a denied name is one of the names its certificate would cover: "*" stands
 * for exactly one label (RFC 6125 §6.4.3, RFC 8555 §7.1.3), so "*.payments.internal" covers
 * "admin.payments.internal" but not "a.admin.payments.internal" nor "payments.internal".
 */
export class AccessPolicy {
  private readonly allow: Matcher;
  private readonly deny: Matcher;

  constructor(
    readonly name: string,
    private readonly config: AccessPolicyConfig,
  ) {
    this.allow = new Matcher(config.allow, `policies.${name}.allow`);
    this.deny = new Matcher(config.deny, `policies.${name}.deny`);
  }

  get maxLifetimeMs(): number | undefined {
    return this.config.maxLifetimeMs;
  }

  get profiles(): readonly string[] {
    return this.config.profiles ?? [];
  }

  get preAuthorized(): boolean {
    return this.config.preAuthorized ?? false;
  }

  get preAuthorizedWildcards(): boolean {
    return this.preAuthorized && (this.config.preAuthorizedWildcards ?? false);
  }

  allowsProfile(name: string): boolean {
    return this.profiles.length === 0 || this.profiles.includes(name);
  }

  allowsChallenge(type: ChallengeType): boolean {
    return this.config.challenges.length === 0 || this.config.challenges.includes(type);
  }

  /** Why this policy refuses the identifier, or undefined. */
  refusal(id: Identifier): string | undefined {
    const denied = this.deny.match(id);
    if (denied) return `${describe(id)} is denied by policy "${this.name}" (pattern ${denied})`;
    const covered = this.deny.deniedNameCoveredBy(id);
    if (covered) {
      return `${describe(id)} would cover "${covered}", which policy "${this.name}" denies (pattern ${covered}); order the names you need without the wildcard`;
    }
    if (!this.allow.empty && !this.allow.match(id)) {
      return `${describe(id)} is not allowed by policy "${this.name}" (allowed: ${this.config.allow.join(', ')})`;
    }
    return undefined;
  }

  /** newOrder: one rejectedIdentifier subproblem per refused identifier (RFC 8555 §6.7.1). */
  checkIdentifiers(identifiers: readonly Identifier[]): void {
    const problems: SubProblem[] = [];
    for (const id of identifiers) {
      const why = this.refusal(id);
      if (why) problems.push({ type: 'rejectedIdentifier', detail: why, identifier: id });
    }
    if (problems.length === 1) throw new AcmeProblem('rejectedIdentifier', problems[0]!.detail, { identifier: problems[0]!.identifier });
    if (problems.length > 1) {
      throw new AcmeProblem('rejectedIdentifier', `${problems.length} identifiers are refused by policy "${this.name}"; see subproblems`, {
        subproblems: problems,
      });
    }
  }
}

function describe(id: Identifier): string {
  return id.type === 'ip' ? `IP address ${id.value}` : `"${id.value}"`;
}

class Matcher {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly networkPatterns: { pattern: string; list: BlockList }[] = [];
  readonly empty: boolean;

  constructor(patterns: readonly string[], key: string) {
    this.empty = patterns.length === 0;
    for (const raw of patterns) {
      const pattern = raw.trim().toLowerCase();
      const cidr = /^([^/]+)\/(\d{1,3})$/.exec(pattern);
      if (cidr) {
        const family = isIP(cidr[1]!);
        const bits = Number(cidr[2]);
        // canonicalIpAddress refuses zone ids ("fe80::1%eth0"), which no identifier carries.
        if (family === 0 || canonicalIpAddress(cidr[1]!) === undefined || bits > (family === 4 ? 32 : 128)) {
          throw new PolicyConfigError(`${key}: "${raw}" is not a valid CIDR network`);
        }
        const list = new BlockList();
        list.addSubnet(cidr[1]!, bits, family === 4 ? 'ipv4' : 'ipv6');
        this.networkPatterns.push({ pattern: raw, list });
      } else if (isIP(pattern) !== 0) {
        const canonical = canonicalIpAddress(pattern);
        if (canonical === undefined) throw new PolicyConfigError(`${key}: "${raw}" is not an IP address an identifier can have (no zone id)`);
        this.exact.add(`ip:${canonical}`);
      } else if (pattern.startsWith('*.') && pattern.length > 2 && !pattern.slice(2).includes('*')) {
        this.suffixes.push(pattern.slice(1));
      } else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(pattern)) {
        // The URL Standard reads "010.0.0.1", "10.1" and "0x0a.0.0.1" as IPv4 addresses (and "256.0.0.1"
        // as no host at all): a mistyped address, which as a name would silently match nothing.
        if (!isNameNotAddress(pattern)) {
          throw new PolicyConfigError(`${key}: "${raw}" is not a valid IP address (dotted decimal without leading zeros) or name`);
        }
        this.exact.add(`dns:${pattern}`);
      } else {
        throw new PolicyConfigError(`${key}: "${raw}" is not a name, "*.suffix", IP address or CIDR network`);
      }
    }
  }

  /** The pattern that matches, or undefined. */
  match(id: Identifier): string | undefined {
    const value = id.value.toLowerCase();
    if (id.type === 'ip') {
      if (this.exact.has(`ip:${value}`)) return value;
      const family = isIP(value) === 4 ? 'ipv4' : 'ipv6';
      return this.networkPatterns.find((n) => n.list.check(value, family))?.pattern;
    }
    if (this.exact.has(`dns:${value}`)) return value;
    // The wildcard "*.apps.internal" lies under "*.internal" and under "*.apps.internal" itself;
    // the plain name "internal" lies under neither.
    const wildcard = value.startsWith('*.');
    const name = wildcard ? value.slice(1) : value;
    const suffix = this.suffixes.find((s) => name.endsWith(s) && (wildcard || name.length > s.length));
    return suffix ? `*${suffix}` : undefined;
  }

  /**
   * For a wildcard "*.base": an exact name pattern that the wildcard's certificate would cover, i.e.
   * one label followed by ".base" (RFC 6125 §6.4.3). Suffix patterns need no such check: a
   * "*.suffix" pattern has a name one label under "base" exactly when match() finds it (base is the
   * suffix or lies under it); a suffix below base ("*.x.base") only holds names two or more labels
   * under base, which the wildcard does not cover.
   */
  deniedNameCoveredBy(id: Identifier): string | undefined {
    const value = id.value.toLowerCase();
    if (id.type !== 'dns' || !value.startsWith('*.')) return undefined;
    const dotBase = value.slice(1);
    for (const entry of this.exact) {
      if (!entry.startsWith('dns:')) continue;
      const name = entry.slice('dns:'.length);
      if (!name.endsWith(dotBase)) continue;
      const label = name.slice(0, name.length - dotBase.length);
      if (label.length > 0 && !label.includes('.')) return name;
    }
    return undefined;
  }
}

function isNameNotAddress(name: string): boolean {
  try {
    return !isIPv4(new URL(`http://${name}/`).hostname);
  } catch {
    return false;
  }
}

export class PolicyConfigError extends Error {
  override name = 'PolicyConfigError';
}

/** The policy every account without a named one gets: config `policies.default`, or no limits. */
export const DEFAULT_POLICY_NAME = 'default';

export function unrestrictedPolicy(): AccessPolicy {
  return new AccessPolicy(DEFAULT_POLICY_NAME, { allow: [], deny: [], challenges: [] });
}
