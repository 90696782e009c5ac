import type { Clock } from '../core/clock.js';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem } from '../core/problem.js';
import { DNS_PERSIST_LABEL, parsePersistRecord, quote, refusalOf, type PersistRefusal } from './dns-persist-record.js';
import type { NameResolver } from './resolver.js';

export interface DnsPersist01Options {
  readonly resolver: NameResolver;
  /** Bound on all the lookups of one validation together. */
  readonly timeoutMs: number;
  /** Normalized, 1 to 10 (validation.dnsPersist.issuerDomainNames). */
  readonly issuerDomainNames: readonly string[];
  readonly clock: Clock;
}

/**
 * How many names up the tree a record with policy=wildcard is looked for (the draft's subdomain
 * validation: "the validated FQDN is a proper suffix" of the requested one): a.b.c.example.internal
 * is authorized by such a record at any of its parents down to two labels, at most this many,
 * nearest first. Boulder looks at the name's own record only.
 */
export const MAX_PARENT_LOOKUPS = 6;

/** What the records at one name said, for the problem when none authorizes. */
interface NameOutcome {
  readonly owner: string;
  /** No TXT record at all (NXDOMAIN or NODATA). */
  readonly empty: boolean;
  /** Issuer names of well-formed records naming someone else. */
  readonly otherIssuers: readonly string[];
  readonly malformed: readonly string[];
  readonly refused: readonly { reason: PersistRefusal; text: string }[];
}

/**
 * draft-ietf-acme-dns-persist-01 §4: a TXT record at _validation-persist.<name> naming one of our
 * issuer domain names and the account's URI, looked up through validation.dnsResolvers (CNAMEs
 * followed; any one of several records suffices). A wildcard authorization needs policy=wildcard
 * at the base name; a plain name is also authorized by a record with policy=wildcard at a parent.
 * Throws AcmeProblem: unauthorized (no record, other issuers, other account, expired, no
 * wildcard policy), malformed (a record naming us that does not parse) or dns (lookup failed).
 */
export async function validateDnsPersist01(identifier: Identifier, wildcard: boolean, accountUri: string, o: DnsPersist01Options): Promise<void> {
  if (identifier.type !== 'dns') {
    throw new AcmeProblem('malformed', 'dns-persist-01 proves control of DNS names, not IP addresses', { identifier });
  }
  const name = identifier.value.toLowerCase().replace(/\.$/, '');
  const now = o.clock.now();
  // The name's own record first, then its parents' (plain names only; a wildcard's is its base name's).
  const candidates = [name, ...(wildcard ? [] : parentsOf(name))];
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), o.timeoutMs);
  const outcomes: NameOutcome[] = [];
  try {
    for (const candidate of candidates) {
      const owner = `${DNS_PERSIST_LABEL}.${candidate}`;
      let values: string[];
      try {
        values = await o.resolver.resolveTxt(owner, controller.signal, { absentAsEmpty: true });
      } catch (e) {
        if (e instanceof AcmeProblem) throw new AcmeProblem(e.type, e.detail, { identifier });
        throw e;
      }
      const outcome = judge(owner, values, { accountUri, needsWildcardPolicy: wildcard || candidate !== name, now }, o.issuerDomainNames);
      if (outcome === 'valid') return;
      outcomes.push(outcome);
    }
  } finally {
    clearTimeout(deadline);
  }
  throw problemOf(outcomes, { name, wildcard, issuers: o.issuerDomainNames }, identifier);
}

/** a.b.example.internal → b.example.internal, example.internal: never a single label, at most MAX_PARENT_LOOKUPS. */
function parentsOf(name: string): string[] {
  const labels = name.split('.');
  const parents: string[] = [];
  for (let i = 1; i < labels.length - 1 && parents.length < MAX_PARENT_LOOKUPS; i++) parents.push(labels.slice(i).join('.'));
  return parents;
}

function judge(
  owner: string,
  values: readonly string[],
  request: { accountUri: string; needsWildcardPolicy: boolean; now: Date },
  ours: readonly string[],
): NameOutcome | 'valid' {
  const otherIssuers: string[] = [];
  const malformed: string[] = [];
  const refused: { reason: PersistRefusal; text: string }[] = [];
  for (const text of values) {
    const parsed = parsePersistRecord(text);
    if (!parsed.ok) {
      // Only records naming us are quoted: a CNAME at the name can lead our resolver into an
      // internal zone, whose other TXT records are not the applicant's to read (as in dns01.ts).
      if (parsed.issuer !== undefined && ours.includes(parsed.issuer)) malformed.push(`${quote(text)}: ${parsed.error}`);
      continue;
    }
    if (!ours.includes(parsed.record.issuer)) {
      otherIssuers.push(parsed.record.issuer);
      continue;
    }
    const refusal = refusalOf(parsed.record, request);
    if (!refusal) return 'valid';
    refused.push({ reason: refusal.reason, text: `${quote(text)}: ${refusal.detail}` });
  }
  return { owner, empty: values.length === 0, otherIssuers: [...new Set(otherIssuers)], malformed, refused };
}

/** A zone can hold hundreds of records naming us: the detail shows a few and counts the rest. */
function listed(items: readonly string[], max = 3): string {
  const more = items.length - max;
  return items.slice(0, max).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

const REASON_ORDER: readonly PersistRefusal[] = ['account', 'expired', 'wildcard'];

function problemOf(
  outcomes: readonly NameOutcome[],
  r: { name: string; wildcard: boolean; issuers: readonly string[] },
  identifier: Identifier,
): AcmeProblem {
  const own = outcomes[0]!;
  // The name's own records decide, unless none of them names us; then the nearest parent that does.
  const ourRecords = (o: NameOutcome) => o.malformed.length + o.refused.length > 0;
  const telling = ourRecords(own) ? own : (outcomes.slice(1).find(ourRecords) ?? own);
  const at = `at ${telling.owner}`;
  const parentNote = telling === own ? '' : ` (a record at a parent of ${r.name} must carry policy=wildcard to authorize it)`;
  // Boulder's order: a malformed record naming us first, then the refusals.
  if (telling.malformed.length > 0) {
    return new AcmeProblem('malformed', `dns-persist-01 record ${at} does not parse: ${listed(telling.malformed)}`, { identifier });
  }
  if (telling.refused.length > 0) {
    const reasons = new Set(telling.refused.map((x) => x.reason));
    const first = REASON_ORDER.find((x) => reasons.has(x))!;
    const what = {
      account: 'names another account',
      expired: 'has expired',
      wildcard: r.wildcard ? `does not permit the wildcard *.${r.name}` : 'does not permit names under it',
    }[first];
    return new AcmeProblem(
      'unauthorized',
      `dns-persist-01 record ${at} ${what}: ${listed(telling.refused.map((x) => x.text))}${parentNote}`,
      { identifier },
    );
  }
  const searched = outcomes.length > 1 ? ` (nor at the ${outcomes.length - 1} parent name${outcomes.length === 2 ? '' : 's'} looked at)` : '';
  if (own.empty && outcomes.every((o) => o.empty)) {
    return new AcmeProblem('unauthorized', `no TXT record at ${own.owner}${searched}: add the dns-persist-01 record naming ${r.issuers[0]} and this account`, { identifier });
  }
  const seen = [...new Set(outcomes.flatMap((o) => o.otherIssuers))];
  const issuers = r.issuers.map((i) => JSON.stringify(i)).join(', ');
  return new AcmeProblem(
    'unauthorized',
    seen.length > 0
      ? `no dns-persist-01 record at ${own.owner}${searched} names this CA (${issuers}); records found name ${seen.map((i) => JSON.stringify(i)).join(', ')}`
      : `no dns-persist-01 record at ${own.owner}${searched} names this CA (${issuers}); the TXT records there are not dns-persist-01 records`,
    { identifier },
  );
}
