import { MAX_ISSUER_DOMAIN_NAMES, normalizeIssuerDomainName } from '../core/issuer-domain-name.js';
import type { ConfigInput } from './schema.js';

/**
 * validation.dnsPersist.issuerDomainNames, normalized as the record parser normalizes what it
 * reads (draft-ietf-acme-dns-persist-01 §3.1: lowercase A-labels, no trailing dot, at most 10).
 */
export function resolveIssuerDomainNames(c: ConfigInput, fail: (message: string) => never): string[] {
  const key = 'validation.dnsPersist.issuerDomainNames';
  const names = c.validation.dnsPersist.issuerDomainNames;
  if (names.length > MAX_ISSUER_DOMAIN_NAMES) {
    fail(`${key} lists ${names.length} names; a dns-persist-01 challenge may carry at most ${MAX_ISSUER_DOMAIN_NAMES} (draft-ietf-acme-dns-persist-01 §3.1)`);
  }
  const normalized = names.map((name, i) => {
    const n = normalizeIssuerDomainName(name);
    if (n === undefined) {
      fail(`${key}[${i}] ${JSON.stringify(name)} is not a DNS name of at most 253 octets (letters, digits, inner hyphens; e.g. ca.example.internal)`);
    }
    return n;
  });
  if (normalized.length === 0) {
    const requiring = Object.entries(c.policies).find(([, p]) => p.challenges?.includes('dns-persist-01'));
    if (requiring) {
      fail(
        `policies.${requiring[0]}.challenges lists dns-persist-01 but ${key} is empty: set ${key} (e.g. ["ca.example.internal"]) or remove dns-persist-01 from the list`,
      );
    }
  }
  return [...new Set(normalized)];
}
