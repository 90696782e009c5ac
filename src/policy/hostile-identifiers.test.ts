import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, GeneralNames, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { parseCsr } from '../ca/csr.js';
import { AcmeProblem } from '../core/problem.js';
import { AccessPolicy, PolicyConfigError } from './access.js';
import { checkOrderIdentifiers } from './identifiers.js';

// Model-based properties (fast-check) of identifiers (RFC 8555 §7.1.4, RFC 8738): each generated
// name or address carries whether the RFCs make it acceptable, decided as it is built (a label of
// 64 characters, a trailing dot, a zero run compressed in the wrong place), and the server must
// agree. IPv6 canonical text comes from an RFC 5952 §4 formatter written here, not from the URL
// parser certmint uses. hostile-input.test.ts already checks that no identifier gets a 5xx.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

let t: TestAcmeApp;
let client: InjectAcmeClient;
beforeAll(async () => {
  t = await startTestAcmeApp({ env: { CERTMINT_LIMITS_NEW_ORDERS_PER_ACCOUNT_PER_HOUR: '0', CERTMINT_LIMITS_PENDING_AUTHORIZATIONS_PER_ACCOUNT: '0' } });
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
});
afterAll(async () => t?.close());

/** The problem checkOrderIdentifiers throws for one identifier, or undefined when it accepts it. */
function verdict(type: string, value: string): AcmeProblem | undefined {
  try {
    checkOrderIdentifiers([{ type, value }]);
    return undefined;
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
}

// ---- IP addresses -------------------------------------------------------------------------

/** RFC 5952 §4: lower-case hex without leading zeros; the longest run of two or more zero groups (the first of equals) is "::". */
function rfc5952(groups: readonly number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = Math.max(j, i + 1);
  }
  const hex = groups.map((g) => g.toString(16));
  return best < 0 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/** Compresses the zero run starting at `at` (any length, longest or not), as a client might. */
function compressAt(groups: readonly number[], at: number): string {
  let end = at;
  while (end < 8 && groups[end] === 0) end++;
  const hex = groups.map((g) => g.toString(16));
  return end === at ? hex.join(':') : `${hex.slice(0, at).join(':')}::${hex.slice(end).join(':')}`;
}

/** Eight groups with the zero runs and 0xffff prefixes that make IPv6 text interesting. */
const ipv6Groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.constant(1), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });

/** A spelling of the address, and whether it is IPv6 text at all (then only its form can be wrong). */
type Ipv6Spelling = { text: string; isIpv6Text: boolean };
const ipv6Spelling = fc.tuple(ipv6Groups, fc.nat(9), fc.nat(7)).map(([groups, how, at]): [number[], Ipv6Spelling] => {
  const canonical = rfc5952(groups);
  const spellings: Ipv6Spelling[] = [
    { text: canonical, isIpv6Text: true },
    { text: groups.map((g) => g.toString(16)).join(':'), isIpv6Text: true }, // not compressed
    { text: groups.map((g) => g.toString(16).padStart(4, '0')).join(':'), isIpv6Text: true }, // leading zeros
    { text: canonical.toUpperCase(), isIpv6Text: true },
    { text: compressAt(groups, at), isIpv6Text: true }, // "::" somewhere else, or over one group
    // RFC 5952 §5 mixed notation for the last 32 bits.
    { text: `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`, isIpv6Text: true },
    { text: `${canonical}%eth0`, isIpv6Text: false }, // a zone id (RFC 6874) names an interface, not an address
    { text: `[${canonical}]`, isIpv6Text: false },
    { text: ` ${canonical}`, isIpv6Text: false },
    { text: `${canonical}/128`, isIpv6Text: false },
  ];
  return [groups, spellings[how]!];
});

const octets = fc.array(fc.oneof(fc.constant(0), fc.constant(255), fc.nat(255)), { minLength: 4, maxLength: 4 });
const ipv4Spelling = fc.tuple(octets, fc.nat(8), fc.nat(3)).map(([o, how, at]): [string, string] => {
  const canonical = o.join('.');
  const each = (f: (n: number, i: number) => string) => o.map(f).join('.');
  const spellings = [
    canonical,
    each((n, i) => (i === at ? `0${n}` : String(n))), // leading zero: octal to inet_aton
    each((n, i) => (i === at ? `0x${n.toString(16)}` : String(n))),
    `${o[0]}.${o[1]}.${(o[2]! << 8) | o[3]!}`, // inet_aton's three-part form
    String(o.reduce((a, n) => a * 256 + n, 0)), // one 32-bit number
    `${canonical}.`,
    `${canonical} `,
    `::ffff:${canonical}`, // IPv4-mapped IPv6 in mixed notation: an IPv6 identifier, not this one
    `${canonical}/32`,
  ];
  return [canonical, spellings[how]!];
});

/** The model of addresses refused as no host's (link-local, unspecified, multicast, broadcast), from their octets. */
function uncertifiableIpv4(canonical: string): boolean {
  const [a, b] = canonical.split('.').map(Number) as [number, number];
  return (a === 169 && b === 254) || a === 0 || (a >= 224 && a <= 239) || canonical === '255.255.255.255';
}
function uncertifiableIpv6(groups: readonly number[]): boolean {
  return (groups[0]! & 0xffc0) === 0xfe80 || groups.every((g) => g === 0) || groups[0]! >> 8 === 0xff;
}

describe('IP identifiers (RFC 8738 §3: RFC 1123 §2.1 for IPv4, RFC 5952 §4 for IPv6)', () => {
  it('an IPv6 identifier is accepted exactly when it is in RFC 5952 canonical text; otherwise malformed, naming the canonical text', () => {
    const seen = { runs: 0, canonical: 0, otherIpv6: 0 };
    fc.assert(
      fc.property(ipv6Spelling, ([groups, { text, isIpv6Text }]) => {
        const canonical = rfc5952(groups);
        seen.runs += 1;
        if (text === canonical) seen.canonical += 1;
        else if (isIpv6Text) seen.otherIpv6 += 1;
        const problem = verdict('ip', text);
        if (text === canonical && uncertifiableIpv6(groups)) {
          expect(problem?.type, text).toBe('rejectedIdentifier');
          return;
        }
        if (text === canonical) {
          expect(problem?.detail, text).toBeUndefined();
          return;
        }
        expect(problem?.type, text).toBe('malformed');
        if (isIpv6Text) expect(problem?.detail, text).toContain(`send "${canonical}"`);
        else expect(problem?.detail, text).toMatch(/not an IPv4 or IPv6 address/);
      }),
      { numRuns: RUNS * 2 },
    );
    // Each branch is reached (measured: 19% canonical, 43% other IPv6 spellings, the rest not IPv6 text).
    const notIpv6 = seen.runs - seen.canonical - seen.otherIpv6;
    expect(Math.min(seen.canonical, seen.otherIpv6, notIpv6), JSON.stringify(seen)).toBeGreaterThanOrEqual(seen.runs / 20);
  });

  it('an IPv4 identifier is accepted exactly when it is dotted decimal without leading zeros', () => {
    fc.assert(
      fc.property(ipv4Spelling, ([canonical, text]) => {
        const problem = verdict('ip', text);
        if (text === canonical && uncertifiableIpv4(canonical)) expect(problem?.type, text).toBe('rejectedIdentifier');
        else if (text === canonical) expect(problem?.detail, text).toBeUndefined();
        else if (text.startsWith('::ffff:')) expect(problem?.detail, text).toMatch(/send "::ffff:[0-9a-f]+:[0-9a-f]+"/);
        else expect(problem?.type, text).toBe('malformed');
      }),
      { numRuns: RUNS },
    );
  });

  it('a CSR iPAddress of any 16 octets reads as their RFC 5952 text, and a leaf for that text carries the same octets', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    let serial = 0x1000;
    await fc.assert(
      fc.asyncProperty(ipv6Groups, async (groups) => {
        const bytes = Buffer.from(groups.flatMap((g) => [g >> 8, g & 255]));
        // SubjectAltName with one iPAddress [7] of exactly these octets (encoded here, not from text).
        const sanValue = Buffer.concat([Buffer.from([0x30, 18, 0x87, 16]), bytes]);
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({
          keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, extensions: [new x509.Extension(id_ce_subjectAltName, false, sanValue)],
        });
        const parsed = await parseCsr(new Uint8Array(csr.rawData));
        expect(parsed.sans, bytes.toString('hex')).toEqual([{ type: 'ip', value: rfc5952(groups) }]);

        const now = t.clock.now();
        const leaf = await t.ca.issueLeaf({
          spki, identifiers: [{ type: 'ip', value: rfc5952(groups) }], notBefore: now, notAfter: new Date(now.getTime() + DAY), serialHex: `01${(serial++).toString(16).padStart(8, '0')}`,
        });
        const ext = AsnConvert.parse(leaf.der, Certificate).tbsCertificate.extensions!.find((e) => e.extnID === id_ce_subjectAltName)!;
        const names = AsnConvert.parse(ext.extnValue.buffer, GeneralNames);
        expect(names.map((n) => n.iPAddress !== undefined), rfc5952(groups)).toEqual([true]);
        // The octets as the CA wrote them: SEQUENCE { [7] 16 octets } (the ASN.1 layer would re-read them as text).
        expect(Buffer.from(ext.extnValue.buffer).toString('hex'), rfc5952(groups)).toBe(`30128710${bytes.toString('hex')}`);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });
});

// ---- DNS names ------------------------------------------------------------------------------

type Label = { readonly text: string; readonly valid: boolean };
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** RFC 1035 §2.3.1 LDH labels of 1-63 characters, "--" kept out of positions 3-4 (RFC 5891 §4.2.3.1). */
const ldhLabel = fc
  .tuple(fc.constantFrom(...ALNUM), fc.string({ unit: fc.constantFrom(...ALNUM, '-'), maxLength: 61 }), fc.constantFrom(...ALNUM), fc.boolean())
  .map(([first, middle, last, single]): Label => {
    const text = single ? first : first + middle + last;
    return { text: text.slice(2, 4) === '--' ? `${text.slice(0, 3)}x${text.slice(4)}` : text, valid: true };
  });
/** A-labels of real U-labels (letters only: IDNA2008 and UTS #46 agree on those), in any case. */
const aLabel = fc
  .tuple(fc.string({ unit: fc.constantFrom('\u00fc', '\u00e4', '\u00df', '\u4e2d', '\u0436', '\u00e9', '\u00f1', 'a', 'b', 'z'), minLength: 1, maxLength: 20 }), fc.boolean())
  .map(([unicode, upper]) => [domainToASCII(unicode), upper] as const)
  .filter(([ascii]) => /^xn--[a-z0-9-]+$/.test(ascii) && ascii.length <= 63 && !ascii.endsWith('-'))
  .map(([ascii, upper]): Label => ({ text: upper ? ascii.toUpperCase() : ascii, valid: true }));
const badLabel = fc.oneof(
  fc.constantFrom('', '-lead', 'trail-', 'under_score', 'sp ace', 'ab--cd', 'xn--', 'xn--zz', 'xn--abcd', 'xn---', 'a*', '**', '\u00fc', 'caf\u00e9', 'tab\t', 'a/b', 'a@b').map((text): Label => ({ text, valid: false })),
  fc.integer({ min: 64, max: 70 }).map((n): Label => ({ text: 'a'.repeat(n), valid: false })),
);
const boundaryLabel = fc.constantFrom(62, 63).map((n): Label => ({ text: 'b'.repeat(n), valid: true }));
const label = fc.oneof({ weight: 6, arbitrary: ldhLabel }, { weight: 2, arbitrary: aLabel }, { weight: 1, arbitrary: badLabel }, { weight: 1, arbitrary: boundaryLabel });

/** A name of exactly n characters from 50-character labels (valid exactly when n <= 253). */
const nearLimit = fc.integer({ min: 248, max: 258 }).map((n) => {
  let name = '';
  while (n - name.length > 63) name += `${'a'.repeat(50)}.`;
  return name + 'c'.repeat(n - name.length);
});

type DnsCase = { readonly name: string; readonly valid: boolean };
const dnsCase: fc.Arbitrary<DnsCase> = fc.oneof(
  fc.tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean()).map(([labels, wildcard, trailingDot]) => {
    const name = `${wildcard ? '*.' : ''}${labels.map((l) => l.text).join('.')}${trailingDot ? '.' : ''}`;
    const valid =
      labels.every((l) => l.valid) &&
      !trailingDot && // certmint refuses the root label (documented), though DNS allows it
      name.length <= 253 &&
      !/^\d+$/.test(labels.at(-1)!.text) && // an all-numeric top label reads as an address
      (!wildcard || labels.length >= 2); // RFC 8555 §7.1.3: "*." over two labels or more
    return { name, valid };
  }),
  nearLimit.map((name) => ({ name, valid: name.length <= 253 })),
);

describe('DNS identifiers (RFC 1035, RFC 5890-5891, RFC 8555 §7.1.3)', () => {
  it('a name is accepted exactly when its labels, length, wildcard and top label are; otherwise rejectedIdentifier echoing it', () => {
    const seen = new Set<boolean>();
    fc.assert(
      fc.property(dnsCase, ({ name, valid }) => {
        seen.add(valid);
        const problem = verdict('dns', name);
        if (valid) {
          expect(problem?.detail, name).toBeUndefined();
          // Any case is the same name: a second spelling in the same order is dropped.
          expect(checkOrderIdentifiers([{ type: 'dns', value: name }, { type: 'dns', value: name.toUpperCase() }])).toEqual([{ type: 'dns', value: name }]);
          return;
        }
        expect(problem?.type, name).toBe(name === '' ? 'malformed' : 'rejectedIdentifier');
        expect(problem?.identifier, name).toEqual({ type: 'dns', value: name });
      }),
      { numRuns: RUNS * 2 },
    );
    expect(seen).toEqual(new Set([true, false]));
  });

  it('a Unicode name is refused, and the punycode it suggests instead is a name certmint accepts', () => {
    const unicodeLabel = fc.string({
      unit: fc.constantFrom('a', 'b', '1', '-', '\u00fc', '\u00dc', '\u00df', '\u4e2d', '\uff45', '\u00ad', '\u200d', '\u3002', '\ufe52', '\u2460', '\u0301', 'x'),
      minLength: 1,
      maxLength: 70,
    });
    const name = fc
      .tuple(fc.array(unicodeLabel, { minLength: 1, maxLength: 4 }), fc.constantFrom('', '.', '.example', '.123'))
      .map(([labels, tail]) => labels.join('.') + tail)
      .filter((n) => /[^\x21-\x7e]/.test(n));
    const seen = { runs: 0, suggested: 0 };
    fc.assert(
      fc.property(name, (value) => {
        seen.runs += 1;
        const problem = verdict('dns', value);
        expect(problem?.type, value).toBe('rejectedIdentifier');
        const suggested = /send internationalized names in punycode: "(.*)"$/.exec(problem!.detail)?.[1];
        if (suggested === undefined) return;
        seen.suggested += 1;
        expect(suggested, value).toBe(domainToASCII(value));
        expect(verdict('dns', suggested)?.detail, `${JSON.stringify(value)} → ${suggested}`).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
    // Names with a punycode suggestion reach the second half (measured: 6-7% of the cases).
    expect(seen.suggested, `${seen.suggested} of ${seen.runs} names came with a suggestion`).toBeGreaterThanOrEqual(seen.runs / 50);
  });
});

describe('newOrder agrees with the models', () => {
  it('creates the order exactly for the identifiers the models accept, and otherwise answers the RFC problem type', async () => {
    const identifier = fc.oneof(
      dnsCase.map(({ name, valid }) => ({ type: 'dns', value: name, valid })),
      ipv6Spelling.map(([groups, { text }]) => ({ type: 'ip', value: text, valid: text === rfc5952(groups), uncertifiable: uncertifiableIpv6(groups) })),
      ipv4Spelling.map(([canonical, text]) => ({ type: 'ip', value: text, valid: text === canonical, uncertifiable: uncertifiableIpv4(canonical) })),
    );
    const seen = { runs: 0, valid: 0 };
    await fc.assert(
      fc.asyncProperty(identifier, async (id) => {
        const { type, value } = id;
        // Canonical text of an address no host holds: refused as rejectedIdentifier.
        const refused = 'uncertifiable' in id && id.uncertifiable && id.valid;
        const valid = id.valid && !refused;
        seen.runs += 1;
        if (valid) seen.valid += 1;
        const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type, value }] });
        const context = `${type} ${JSON.stringify(value)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        if (valid) {
          expect(res.statusCode, context).toBe(201);
          expect(res.json().identifiers, context).toEqual([{ type, value }]);
          return;
        }
        expect(res.headers['content-type'], context).toBe('application/problem+json');
        expect(res.json().type, context).toBe(`${URN}${(type === 'ip' && !refused) || value === '' ? 'malformed' : 'rejectedIdentifier'}`);
        expect(res.statusCode, context).toBe(400);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
    // Both answers are reached (measured: 22-28% of the identifiers valid).
    expect(Math.min(seen.valid, seen.runs - seen.valid), JSON.stringify(seen)).toBeGreaterThanOrEqual(seen.runs / 10);
  });
});

/** True when the deny list holding `pattern` refuses the identifier; false when it lets it through. */
function denies(pattern: string, value: string): boolean | 'refused pattern' {
  let policy: AccessPolicy;
  try {
    policy = new AccessPolicy('team', { allow: [], deny: [pattern], challenges: [] });
  } catch (e) {
    expect(e, pattern).toBeInstanceOf(PolicyConfigError);
    return 'refused pattern';
  }
  return policy.refusal({ type: 'ip', value }) !== undefined;
}

describe('IP addresses in access policy patterns (policies.<name>.deny)', () => {
  it('a deny pattern spelling an address, or a network holding it, either denies that address or is refused as a pattern', () => {
    // A pattern that loads but never matches would let through what the operator meant to deny.
    const v4 = ipv4Spelling.map(([canonical, text]) => ({ canonical, text, bits: 32 }));
    const v6 = ipv6Spelling.map(([groups, { text }]) => ({ canonical: rfc5952(groups), text, bits: 128 }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), fc.option(fc.nat(128), { nil: undefined }), ({ canonical, text, bits }, prefix) => {
        fc.pre(!text.startsWith('::ffff:') || bits === 128); // a mapped spelling of an IPv4 address is another (IPv6) address
        const pattern = prefix === undefined ? text : `${text}/${prefix % (bits + 1)}`;
        expect(denies(pattern, canonical), `${pattern} against ${canonical}`).not.toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('regressions', () => {
  it('a Unicode name whose punycode is refused too says why, instead of suggesting it', () => {
    // Found by the Unicode property: U+00AD maps to nothing, so the suggestion was ".a", and a trailing dot stayed in it.
    expect(verdict('dns', '\u00ad.a')?.detail).toBe('DNS name "\u00ad.a" is not ASCII, and its punycode ".a" is refused too: DNS name ".a" has an empty label');
    expect(verdict('dns', 'b\u00fccher.example.')?.detail).toMatch(/its punycode "xn--bcher-kva\.example\." is refused too: .*must not end with a dot/);
    expect(verdict('dns', 'b\u00fccher.example')?.detail).toMatch(/send internationalized names in punycode: "xn--bcher-kva\.example"$/);
  });

  it('deny patterns that spell an address wrongly are refused instead of matching nothing', () => {
    // Found by the deny-pattern property: both loaded, and 0.0.255.0 and fe80::1 were not denied.
    expect(denies('00.0.255.0', '0.0.255.0')).toBe('refused pattern');
    expect(denies('fe80::1%eth0', 'fe80::1')).toBe('refused pattern');
    expect(denies('fe80::1%eth0/64', 'fe80::1')).toBe('refused pattern');
    expect(denies('FE80:0:0:0:0:0:0:1', 'fe80::1')).toBe(true);
    expect(denies('10.0.0.0/8', '10.1.2.3')).toBe(true);
  });
});
