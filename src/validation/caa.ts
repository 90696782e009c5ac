import type { CaaRecord } from 'node:dns';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem } from '../core/problem.js';
import type { NameResolver } from './resolver.js';

export interface CaaOptions {
  /** The issuer domain names that mean "this CA" in CAA records (validation.caa.identities). */
  readonly identities: readonly string[];
  readonly resolver: NameResolver;
  readonly timeoutMs: number;
}

export interface CaaRequest {
  /** The name being authorized (for a wildcard, the base name). */
  readonly identifier: Identifier;
  readonly wildcard: boolean;
  /** The ACME account URL, for the `accounturi` parameter (RFC 8657 §3). */
  readonly accountUri: string;
  /** The challenge type that proved control, for the `validationmethods` parameter (RFC 8657 §4). */
  readonly method: string;
}

/** One CAA property as DNS gives it: flags, tag and value. */
export interface CaaProperty {
  readonly critical: boolean;
  readonly tag: string;
  readonly value: string;
}

const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail', 'issuevmc']);

/**
 * RFC 8659 §3: the relevant record set is the CAA RRset of the name or, when it has none, of the
 * nearest ancestor that has one. IP identifiers have no CAA (RFC 8738 §7). Throws `caa` when the
 * records forbid issuance and `dns` when they cannot be read (a lookup failure is not permission).
 */
export async function checkCaa(req: CaaRequest, o: CaaOptions): Promise<void> {
  if (req.identifier.type !== 'dns') return;
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), o.timeoutMs);
  try {
    const labels = req.identifier.value.toLowerCase().split('.');
    for (let i = 0; i < labels.length; i++) {
      const name = labels.slice(i).join('.');
      let records: CaaRecord[];
      try {
        records = await o.resolver.resolveCaa(name, controller.signal);
      } catch (e) {
        if (e instanceof AcmeProblem) {
          throw new AcmeProblem('dns', `While checking CAA for ${req.identifier.value}: ${e.detail}`, { identifier: req.identifier });
        }
        throw e;
      }
      if (records.length === 0) continue;
      const refusal = caaRefusal(records.map(caaProperty), req, o.identities);
      if (refusal) {
        throw new AcmeProblem('caa', `CAA record for ${name} prevents issuance: ${refusal}`, { identifier: req.identifier });
      }
      return;
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** Node gives each record as { critical, <tag>: value }. */
export function caaProperty(record: CaaRecord): CaaProperty {
  const [tag, value] = Object.entries(record).find(([k]) => k !== 'critical') ?? ['', ''];
  // Bit 0 of the flags (128) is the issuer critical flag (RFC 8659 §4.1).
  return { critical: (record.critical & 128) !== 0, tag: tag.toLowerCase(), value: String(value) };
}

/** Why the relevant record set forbids this issuance, or undefined when it allows it. */
export function caaRefusal(properties: readonly CaaProperty[], req: CaaRequest, identities: readonly string[]): string | undefined {
  const unknownCritical = properties.find((p) => p.critical && !KNOWN_TAGS.has(p.tag));
  if (unknownCritical) return `it has the critical property "${unknownCritical.tag}" that this CA does not understand (RFC 8659 §4.1)`;
  const issue = properties.filter((p) => p.tag === 'issue');
  const issuewild = properties.filter((p) => p.tag === 'issuewild');
  // RFC 8659 §4.3: issuewild, where present, governs wildcards instead of issue.
  const relevant = req.wildcard && issuewild.length > 0 ? issuewild : issue;
  const tag = req.wildcard && issuewild.length > 0 ? 'issuewild' : 'issue';
  if (relevant.length === 0) return undefined;
  const ours = new Set(identities.map((d) => d.toLowerCase()));
  const reasons: string[] = [];
  for (const property of relevant) {
    const parsed = parseIssueValue(property.value);
    if (!parsed) {
      reasons.push(`"${property.value}" does not parse`);
      continue;
    }
    if (parsed.issuer === '') continue; // ";" alone: no CA may issue.
    if (!ours.has(parsed.issuer)) continue;
    const accountUri = parsed.parameters.get('accounturi');
    if (accountUri !== undefined && accountUri !== req.accountUri) {
      reasons.push(`${tag} "${property.value}" limits issuance to account ${accountUri}`);
      continue;
    }
    const methods = parsed.parameters.get('validationmethods');
    if (methods !== undefined && !methods.split(',').map((m) => m.trim()).includes(req.method)) {
      reasons.push(`${tag} "${property.value}" does not allow the validation method ${req.method}`);
      continue;
    }
    return undefined;
  }
  const names = identities.length > 0 ? identities.join(', ') : '(none configured in validation.caa.identities)';
  return reasons.length > 0 ? reasons.join('; ') : `no ${tag} property names this CA (${names})`;
}

/** RFC 8659 §4.2: issuer-domain-name [";" parameter *(";" parameter)], whitespace allowed around. */
function parseIssueValue(value: string): { issuer: string; parameters: Map<string, string> } | undefined {
  const [issuerPart = '', ...rest] = value.split(';');
  const issuer = issuerPart.trim().toLowerCase();
  if (issuer !== '' && !/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(issuer)) return undefined;
  const parameters = new Map<string, string>();
  for (const part of rest) {
    const text = part.trim();
    if (text === '') continue;
    const m = /^([A-Za-z0-9]+)\s*=\s*([\x21-\x3a\x3c-\x7e]*)$/.exec(text);
    if (!m) return undefined;
    parameters.set(m[1]!.toLowerCase(), m[2]!);
  }
  return { issuer, parameters };
}
