import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identifier } from '../core/identifier.js';
import { AccessPolicy, PolicyConfigError } from './access.js';

const dns = (value: string): Identifier => ({ type: 'dns', value });
const ip = (value: string): Identifier => ({ type: 'ip', value });
const policy = (allow: string[], deny: string[] = []) => new AccessPolicy('p', { allow, deny, challenges: [] });

describe('AccessPolicy', () => {
  it('matches exact names, suffixes at any depth, addresses and CIDR networks, case-insensitively', () => {
    const p = policy(['db.internal', '*.svc.cluster.local', '10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    for (const id of [dns('DB.internal'), dns('web.ns.svc.cluster.local'), dns('*.ns.svc.cluster.local'), ip('10.9.8.7'), ip('2001:db8::1'), ip('192.0.2.7')]) {
      expect(p.refusal(id), id.value).toBeUndefined();
    }
    for (const id of [dns('x.db.internal'), dns('svc.cluster.local'), dns('evilsvc.cluster.local'), ip('11.0.0.1'), ip('192.0.2.8'), ip('2001:db9::1')]) {
      expect(p.refusal(id), id.value).toMatch(/is not allowed by policy "p"/);
    }
  });

  it('lets a wildcard identifier through only under a suffix pattern, its own included', () => {
    expect(policy(['*.apps.internal']).refusal(dns('*.apps.internal'))).toBeUndefined();
    expect(policy(['*.apps.internal']).refusal(dns('*.internal'))).toBeDefined();
    expect(policy(['apps.internal']).refusal(dns('*.apps.internal'))).toBeDefined();
  });

  it('lets deny win over allow, and allows everything when allow is empty', () => {
    const p = policy(['*.internal'], ['admin.internal', '10.0.0.1']);
    expect(p.refusal(dns('admin.internal'))).toBe('"admin.internal" is denied by policy "p" (pattern admin.internal)');
    expect(p.refusal(dns('web.internal'))).toBeUndefined();
    expect(policy([], ['*.secret.test']).refusal(dns('anything.else'))).toBeUndefined();
    expect(policy([], ['10.0.0.1']).refusal(ip('10.0.0.1'))).toMatch(/denied/);
  });

  it('refuses a wildcard whose certificate would cover a denied name, and says which (RFC 6125 §6.4.3)', () => {
    // docs/access.md's example: the wildcard is allowed, but its certificate would be valid for admin.
    const p = policy(['*.payments.internal'], ['admin.payments.internal']);
    expect(p.refusal(dns('*.Payments.internal'))).toBe(
      '"*.Payments.internal" would cover "admin.payments.internal", which policy "p" denies (pattern admin.payments.internal); order the names you need without the wildcard',
    );
    // One label only: these wildcards cover nothing the deny list names.
    expect(p.refusal(dns('*.api.payments.internal'))).toBeUndefined();
    expect(p.refusal(dns('*.admin.payments.internal'))).toBeUndefined();
    expect(policy([], ['payments.internal']).refusal(dns('*.payments.internal'))).toBeUndefined();
    expect(policy([], ['a.b.payments.internal']).refusal(dns('*.payments.internal'))).toBeUndefined();
    // Denied suffixes: at, above or below the wildcard's base.
    expect(policy([], ['*.payments.internal']).refusal(dns('*.payments.internal'))).toMatch(/denied .*pattern \*\.payments\.internal/);
    expect(policy([], ['*.internal']).refusal(dns('*.payments.internal'))).toMatch(/pattern \*\.internal/);
    expect(policy([], ['*.admin.payments.internal']).refusal(dns('*.payments.internal'))).toBeUndefined();
    // The ordered name itself is checked first: a denied exact wildcard base is not a refusal.
    expect(policy([], ['admin.payments.internal']).refusal(dns('admin.payments.internal'))).toMatch(/is denied/);
  });

  it('names the config key of a pattern it cannot read', () => {
    expect(() => policy(['10.0.0.0/33'])).toThrow(new PolicyConfigError('policies.p.allow: "10.0.0.0/33" is not a valid CIDR network'));
    expect(() => policy([], ['*.*.x'])).toThrow(/policies.p.deny: "\*.\*.x" is not a name/);
    expect(() => policy(['bad name'])).toThrow(PolicyConfigError);
  });

  it('offers only its challenge types when it lists some', () => {
    const p = new AccessPolicy('dnsonly', { allow: [], deny: [], challenges: ['dns-01'] });
    expect(['http-01', 'dns-01', 'tls-alpn-01'].map((t) => p.allowsChallenge(t as 'dns-01'))).toEqual([false, true, false]);
  });
});

// CERTMINT_PROPERTY_RUNS raises the run count for a longer soak.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);

/**
 * A model of what a certificate is valid for, written from RFC 6125 §6.4.3 and not from the
 * matcher: a name covers itself; "*.base" covers "label.base" for any single label. Names are
 * drawn from a small set of labels, so "zz" (in no pattern) stands for every other label.
 */
describe('AccessPolicy: no identifier set it allows yields a certificate for a denied name', () => {
  const LABELS = ['a', 'b', 'c'];
  const label = fc.constantFrom(...LABELS);
  const name = (min: number, max: number) => fc.array(label, { minLength: min, maxLength: max }).map((l) => l.join('.'));
  const anyCase = (text: string) =>
    fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((up) => [...text].map((ch, i) => (up[i] ? ch.toUpperCase() : ch)).join(''));
  const pattern = fc.oneof(name(1, 4), name(1, 3).map((s) => `*.${s}`)).chain(anyCase);
  const identifier = fc.oneof(name(1, 5), name(1, 4).map((s) => `*.${s}`)).chain(anyCase);

  const covered = (id: string): string[] => {
    const v = id.toLowerCase();
    return v.startsWith('*.') ? [...LABELS, 'zz'].map((l) => `${l}${v.slice(1)}`) : [v];
  };
  const deniedByModel = (deny: readonly string[], n: string): boolean =>
    deny.some((raw) => {
      const d = raw.toLowerCase();
      return d.startsWith('*.') ? n.endsWith(d.slice(1)) : n === d;
    });

  it('refuses exactly the sets whose certificate would cover a denied name (no allow list)', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 5 }), fc.array(identifier, { minLength: 1, maxLength: 4 }), (deny, ids) => {
        const p = policy([], deny);
        const refused = ids.some((id) => p.refusal(dns(id)) !== undefined);
        const coversDenied = ids.some((id) => covered(id).some((n) => deniedByModel(deny, n)));
        expect(refused).toBe(coversDenied);
      }),
      { numRuns: RUNS },
    );
  });

  it('never lets an allow list get a denied name through', () => {
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 4 }), fc.array(pattern, { maxLength: 5 }), fc.array(identifier, { minLength: 1, maxLength: 4 }), (allow, deny, ids) => {
        const p = policy(allow, deny);
        let accepted = true;
        try {
          p.checkIdentifiers(ids.map(dns));
        } catch {
          accepted = false;
        }
        if (accepted) expect(ids.flatMap(covered).filter((n) => deniedByModel(deny, n))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});
