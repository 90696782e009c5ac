import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeIssuerDomainName } from '../core/issuer-domain-name.js';
import { parsePersistRecord, persistRecordFor, quote, refusalOf, type ParsedPersistRecord } from './dns-persist-record.js';

const ACCOUNT = 'https://ca.example.internal/acme/acct/Abc123';
const NOW = new Date('2026-06-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;

/** What the checker says of a record for ACCOUNT, as the validator asks (plain name unless wildcard). */
function verdict(text: string, needsWildcardPolicy = false): string {
  const parsed = parsePersistRecord(text);
  if (!parsed.ok) return `malformed (${parsed.issuer ?? '-'}): ${parsed.error}`;
  const refusal = refusalOf(parsed.record, { accountUri: ACCOUNT, needsWildcardPolicy, now: NOW });
  return refusal ? refusal.reason : `valid ${parsed.record.issuer}`;
}

describe('parsePersistRecord and refusalOf (draft-ietf-acme-dns-persist-01 §4, as Boulder reads it)', () => {
  it.each([
    // [record, wildcard needed, outcome]
    [`ca.example.internal; accounturi=${ACCOUNT}`, false, 'valid ca.example.internal'],
    [`ca.example.internal;accounturi=${ACCOUNT}`, false, 'valid ca.example.internal'],
    [`\t CA.Example.Internal. \t;\t AccountURI \t=\t ${ACCOUNT} `, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; policy=wildcard`, true, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; POLICY=WildCard`, true, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; policy=other`, true, 'wildcard'],
    [`ca.example.internal; accounturi=${ACCOUNT}`, true, 'wildcard'],
    [`ca.example.internal; accounturi=${ACCOUNT}; future=thing; x-y=1; future2=`, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; unknown=a; unknown=b`, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=${NOW_S}`, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistuntil=${NOW_S + 1}`, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=${NOW_S - 1}`, false, 'expired'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=99999999999999999999999999`, false, 'valid ca.example.internal'],
    [`ca.example.internal; accounturi=${ACCOUNT.toLowerCase()}`, false, 'account'],
    [`ca.example.internal; accounturi=${ACCOUNT}/`, false, 'account'],
    [`ca.example.internal; accounturi=${ACCOUNT}; accounturi=${ACCOUNT}`, false, 'malformed (ca.example.internal): parameter "accounturi" appears twice'],
    [`ca.example.internal; accounturi=${ACCOUNT}; Policy=wildcard; policy=wildcard`, false, 'malformed (ca.example.internal): parameter "policy" appears twice'],
    [`ca.example.internal; accounturi=${ACCOUNT};`, false, 'malformed (ca.example.internal): empty parameter (a trailing or doubled ";")'],
    [`ca.example.internal; ; accounturi=${ACCOUNT}`, false, 'malformed (ca.example.internal): empty parameter (a trailing or doubled ";")'],
    ['ca.example.internal', false, 'malformed (ca.example.internal): no accounturi parameter'],
    ['ca.example.internal; accounturi=', false, 'malformed (ca.example.internal): accounturi is empty'],
    [`ca.example.internal; accounturi ${ACCOUNT}`, false, `malformed (ca.example.internal): parameter "accounturi ${ACCOUNT}" is not tag=value`],
    [`ca.example.internal; =x; accounturi=${ACCOUNT}`, false, 'malformed (ca.example.internal): parameter "=x" has an empty tag'],
    [`ca.example.internal; accounturi=${ACCOUNT} x`, false, 'malformed (ca.example.internal): the value of "accounturi" has a character RFC 8659 does not allow (space, control or non-ASCII)'],
    [`ca.example.internal; accounturi=${ACCOUNT}é`, false, 'malformed (ca.example.internal): the value of "accounturi" has a character RFC 8659 does not allow (space, control or non-ASCII)'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=-5`, false, 'malformed (ca.example.internal): persistUntil "-5" is not a UNIX time in seconds'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=1.5`, false, 'malformed (ca.example.internal): persistUntil "1.5" is not a UNIX time in seconds'],
    [`ca.example.internal; accounturi=${ACCOUNT}; persistUntil=`, false, 'malformed (ca.example.internal): persistUntil "" is not a UNIX time in seconds'],
    [`; accounturi=${ACCOUNT}`, false, 'malformed (-): empty issuer-domain-name'],
    [`ca_example.internal; accounturi=${ACCOUNT}`, false, 'malformed (-): issuer-domain-name "ca_example.internal" is not a domain name'],
    [`ca..internal; accounturi=${ACCOUNT}`, false, 'malformed (-): issuer-domain-name "ca..internal" is not a domain name'],
    [`bücher.example; accounturi=${ACCOUNT}`, false, 'valid xn--bcher-kva.example'],
    ['v=spf1 include:_spf.example.com ~all', false, 'malformed (-): issuer-domain-name "v=spf1 include:_spf.example.com ~all" is not a domain name'],
  ])('%s (wildcard %s) → %s', (text, wildcard, outcome) => {
    expect(verdict(text, wildcard)).toBe(outcome);
  });

  it('normalizes issuer names as the draft §9.2 algorithm does', () => {
    expect(normalizeIssuerDomainName('EXAMPLE.com.')).toBe('example.com');
    expect(normalizeIssuerDomainName('üNICODE-example.com.')).toBe('xn--nicode-example-fsb.com');
    expect(normalizeIssuerDomainName(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)).toHaveLength(253);
    expect(normalizeIssuerDomainName(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`)).toBeUndefined();
    for (const bad of ['', '.', '-a.example', 'a-.example', 'a b.example', '*.example', '1.2.3.4/8', 'a'.repeat(64)]) {
      expect(normalizeIssuerDomainName(bad), bad).toBeUndefined();
    }
  });

  it('quotes record text JSON-escaped and cut to 255 characters', () => {
    expect(quote('a"b\u0000')).toBe('"a\\"b\\u0000"');
    expect(quote('x'.repeat(300))).toBe(`"${'x'.repeat(255)}…"`);
  });

  it('prints the record an operator adds', () => {
    expect(persistRecordFor({ name: 'www.example.internal', issuer: 'ca.example.internal', accountUri: ACCOUNT, wildcard: true })).toEqual({
      owner: '_validation-persist.www.example.internal',
      value: `ca.example.internal; accounturi=${ACCOUNT}; policy=wildcard`,
    });
  });
});

// Hostile input: whatever DNS hands over never crashes the parser and never validates a record
// that is wrong in any of the ways that matter.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 300);

const wsp = fc.stringMatching(/^[ \t]{0,3}$/);
const caseOf = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((ch, i) => (up[i] ? ch.toUpperCase() : ch)).join(''));
/** A parameter tag=value with arbitrary WSP around '=' and ';'. */
const param = (tag: fc.Arbitrary<string>, value: fc.Arbitrary<string>) =>
  fc.tuple(wsp, tag, wsp, wsp, value, wsp).map(([a, t, b, c, v, d]) => `${a}${t}${b}=${c}${v}${d}`);
const unknownParam = param(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/).filter((t) => !['accounturi', 'policy', 'persistuntil'].includes(t)), fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{0,12}$/));

function isValid(p: ParsedPersistRecord, accountUri: string, needsWildcardPolicy: boolean): boolean {
  return p.ok && refusalOf(p.record, { accountUri, needsWildcardPolicy, now: NOW }) === undefined;
}

/** Up to 64 KiB (a TXT record's RDATA limit): a random piece repeated, fast to generate. */
const huge = fc
  .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), fc.integer({ min: 1_000, max: 65_535 }))
  .map(([piece, n]) => piece.repeat(Math.ceil(n / piece.length)).slice(0, n));

describe('parsePersistRecord on hostile input', () => {
  it('never throws, whatever the text (any code units, up to 64 KiB)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }), huge), (text) => {
        const p = parsePersistRecord(text);
        expect(typeof p.ok).toBe('boolean');
        if (p.ok) refusalOf(p.record, { accountUri: ACCOUNT, needsWildcardPolicy: true, now: NOW });
      }),
      { numRuns: RUNS },
    );
  });

  it('parses a 64 KiB record of spaces, semicolons or unknown parameters in linear time', () => {
    for (const text of [
      `ca.example.internal;${' '.repeat(65_000)}x`,
      `ca.example.internal; accounturi=${ACCOUNT}${';'.repeat(65_000)}`,
      `ca.example.internal; accounturi=${ACCOUNT}${'; u=v'.repeat(13_000)}`,
      `${'a.'.repeat(32_000)}example`,
    ]) {
      const started = performance.now();
      parsePersistRecord(text);
      expect(performance.now() - started, text.slice(0, 40)).toBeLessThan(200);
    }
  });

  it('validates a right record in any case and spacing, among unknown parameters in any order', () => {
    fc.assert(
      fc.property(
        caseOf('ca.example.internal'),
        caseOf('accounturi'),
        caseOf('policy'),
        caseOf('wildcard'),
        fc.array(unknownParam, { maxLength: 4 }),
        wsp,
        fc.nat({ max: 5 }),
        (issuer, accountTag, policyTag, wildcardValue, unknown, lead, at) => {
          const params = [...unknown];
          params.splice(Math.min(at, params.length), 0, `${accountTag}=${ACCOUNT}`, ` ${policyTag} = ${wildcardValue}`);
          const p = parsePersistRecord(`${lead}${issuer}${lead};${params.join(';')}`);
          expect(p.ok && p.record.issuer).toBe('ca.example.internal');
          expect(isValid(p, ACCOUNT, true)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never validates a record whose account, policy or persistUntil is wrong, nor one with a repeated known tag', () => {
    // Near misses of the account URL (a changed, added or dropped character) as well as strangers.
    const nearMiss = fc.tuple(fc.nat({ max: ACCOUNT.length - 1 }), fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{0,2}$/), fc.nat({ max: 2 })).map(
      ([i, insert, drop]) => `${ACCOUNT.slice(0, i)}${insert}${ACCOUNT.slice(i + drop)}`,
    );
    const otherAccount = fc.oneof(nearMiss, fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{1,80}$/)).filter((a) => a !== ACCOUNT && a !== '');
    const wrongPolicy = fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{0,12}$/).filter((v) => v.toLowerCase() !== 'wildcard');
    const past = fc.integer({ min: 0, max: NOW_S - 1 });
    const known = fc.constantFrom('accounturi', 'policy', 'persistUntil');
    const wrong = fc.oneof(
      otherAccount.map((a) => ({ record: `ca.example.internal; accounturi=${a}; policy=wildcard`, wildcard: false })),
      wrongPolicy.map((v) => ({ record: `ca.example.internal; accounturi=${ACCOUNT}; policy=${v}`, wildcard: true })),
      past.map((t) => ({ record: `ca.example.internal; accounturi=${ACCOUNT}; persistUntil=${t}`, wildcard: false })),
      fc.tuple(known, caseOf('accounturi'), fc.constantFrom('wildcard', String(NOW_S + 100), ACCOUNT)).map(([tag, again, v]) => ({
        record: `ca.example.internal; ${again}=${ACCOUNT}; policy=wildcard; persistUntil=${NOW_S + 100}; ${tag}=${v}`,
        wildcard: false,
      })),
    );
    fc.assert(
      fc.property(wrong, fc.array(unknownParam, { maxLength: 3 }), ({ record, wildcard }, unknown) => {
        const text = [record, ...unknown].join('; ');
        expect(isValid(parsePersistRecord(text), ACCOUNT, wildcard)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('never validates bytes outside RFC 8659 values, wherever they are spliced into the values of a right record', () => {
    const bad = fc.constantFrom(' x', '\u0000', '\u007f', '\u00e9', '\u202e', '\n', '\u{1f600}', '\u00a0');
    const right = `ca.example.internal; accounturi=${ACCOUNT}; note=unknown-tags-too; policy=wildcard`;
    const valueRanges = [...right.matchAll(/=([^;]*)/g)].map((m) => [m.index! + 1, m.index! + 1 + m[1]!.length] as const);
    fc.assert(
      fc.property(bad, fc.nat({ max: valueRanges.length - 1 }), fc.nat(), (b, which, at) => {
        const [start, end] = valueRanges[which]!;
        const i = start + 1 + (at % (end - start - 1));
        const text = `${right.slice(0, i)}${b}${right.slice(i)}`;
        expect(isValid(parsePersistRecord(text), ACCOUNT, true)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});
