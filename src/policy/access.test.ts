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
