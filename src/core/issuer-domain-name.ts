import { domainToASCII } from 'node:url';

/** draft-ietf-acme-dns-persist-01 §3.1: a challenge carries 1 to 10 issuer domain names. */
export const MAX_ISSUER_DOMAIN_NAMES = 10;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * draft-ietf-acme-dns-persist-01 §9.2 (Boulder's core.NormalizeIssuerDomainName): case-fold, NFC,
 * A-labels, no trailing dot, at most 253 octets; and RFC 8659 §4's issuer-domain-name syntax
 * (letters, digits, inner hyphens). undefined when the text is not such a name. Shared by the
 * config (validation.dnsPersist.issuerDomainNames) and the record parser, so both compare alike.
 */
export function normalizeIssuerDomainName(text: string): string | undefined {
  if (text.length === 0 || text.length > 1024) return undefined;
  const folded = text.toLowerCase().normalize('NFC');
  const trimmed = folded.endsWith('.') ? folded.slice(0, -1) : folded;
  if (trimmed === '' || trimmed.includes('..')) return undefined;
  // WHATWG's domainToASCII is UTS #46 processing (what Go's idna.Lookup does): '' when invalid.
  const ascii = /^[\x21-\x7e]+$/.test(trimmed) ? trimmed : domainToASCII(trimmed);
  if (ascii === '' || ascii.length > 253) return undefined;
  return ascii.split('.').every((label) => LABEL.test(label)) ? ascii : undefined;
}
