import { describe, expect, it } from 'vitest';
import { AcmeProblem } from '../core/problem.js';
import { checkOrderIdentifiers } from './identifiers.js';

function problem(fn: () => unknown): AcmeProblem {
  try {
    fn();
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error('expected an AcmeProblem');
}

describe('checkOrderIdentifiers', () => {
  it('keeps names as sent and drops case-insensitive duplicates', () => {
    expect(
      checkOrderIdentifiers([
        { type: 'dns', value: 'Web.Example.internal' },
        { type: 'dns', value: 'web.example.internal' },
        { type: 'dns', value: 'api.svc.cluster.local' },
      ]),
    ).toEqual([
      { type: 'dns', value: 'Web.Example.internal' },
      { type: 'dns', value: 'api.svc.cluster.local' },
    ]);
  });

  it.each([
    ['trailing.dot.', /must not end with a dot/],
    ['bad_label.example', /invalid label/],
    ['-lead.example', /invalid label/],
    ['a..b', /empty label/],
    ['127.0.0.1', /is an IP address/],
    ['a.*.example.internal', /only allowed as the whole first label/],
    ['*x.example.internal', /only allowed as the whole first label/],
    ['**.example.internal', /only allowed as the whole first label/],
    ['*.internal', /at least two labels/],
    [`${'a'.repeat(64)}.example`, /longer than 63/],
    [`${'a.'.repeat(126)}ab`, /longer than 253/],
    ['bücher.example', /not ASCII; send internationalized names in punycode: "xn--bcher-kva.example"/],
    ['tab\there.example', /characters no DNS name may have/],
    ['xn--zz.example', /"xn--zz" is not a valid punycode A-label/],
    ['xn--abcd.example', /"xn--abcd" is not a valid punycode A-label/],
    ['ab--cd.example', /"ab--cd" has "--" in the third and fourth positions/],
  ])('refuses %s', (value, detail) => {
    const p = problem(() => checkOrderIdentifiers([{ type: 'dns', value }]));
    expect(p.type).toBe('rejectedIdentifier');
    expect(p.detail).toMatch(detail);
    expect(p.identifier).toEqual({ type: 'dns', value });
  });

  it('accepts valid punycode A-labels, in any case, and hyphens elsewhere', () => {
    const names = ['xn--bcher-kva.example', 'XN--Bcher-kva.example', 'xn--55qx5d.internal', 'a-b--c.example', '*.xn--mnchen-3ya.test'];
    expect(checkOrderIdentifiers(names.map((value) => ({ type: 'dns', value })))).toHaveLength(4);
  });

  it('accepts a wildcard as the whole first label, as sent', () => {
    expect(checkOrderIdentifiers([{ type: 'dns', value: '*.Svc.Example.internal' }])).toEqual([
      { type: 'dns', value: '*.Svc.Example.internal' },
    ]);
  });

  it('accepts IP addresses in canonical form only (RFC 8738)', () => {
    expect(checkOrderIdentifiers([{ type: 'ip', value: '10.0.0.7' }, { type: 'ip', value: '2001:db8::1' }])).toEqual([
      { type: 'ip', value: '10.0.0.7' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    for (const [value, detail] of [
      ['2001:DB8::1', /send "2001:db8::1"/],
      ['2001:db8:0:0:0:0:0:1', /send "2001:db8::1"/],
      ['010.0.0.1', /not an IPv4 or IPv6 address/],
      ['fe80::1%eth0', /not an IPv4 or IPv6 address/],
      ['example.internal', /not an IPv4 or IPv6 address/],
    ] as const) {
      const p = problem(() => checkOrderIdentifiers([{ type: 'ip', value }]));
      expect(p.type).toBe('malformed');
      expect(p.detail).toMatch(detail);
    }
  });

  it('refuses addresses no host can be validated for (link-local, unspecified, multicast, broadcast) at newOrder', () => {
    for (const [value, what] of [
      ['169.254.169.254', 'link-local (169.254.0.0/16)'],
      ['fe80::1', 'link-local (fe80::/10)'],
      ['0.0.0.0', 'the unspecified network'],
      ['::', 'the unspecified address'],
      ['224.0.0.251', 'multicast (224.0.0.0/4)'],
      ['ff02::1', 'multicast (ff00::/8)'],
      ['255.255.255.255', 'the broadcast address'],
    ] as const) {
      const p = problem(() => checkOrderIdentifiers([{ type: 'ip', value }]));
      expect(p.type).toBe('rejectedIdentifier');
      expect(p.detail).toContain(`IP address ${value} is ${what}`);
    }
    // Neighbours of those ranges are ordinary addresses.
    expect(checkOrderIdentifiers([{ type: 'ip', value: '169.255.0.1' }, { type: 'ip', value: '223.255.255.255' }, { type: 'ip', value: 'fec0::1' }])).toHaveLength(3);
  });

  it('gives one subproblem per bad identifier', () => {
    const p = problem(() =>
      checkOrderIdentifiers([
        { type: 'dns', value: 'ok.example' },
        { type: 'dns', value: 'bad_.example' },
        { type: 'email', value: 'x@example.com' },
      ]),
    );
    expect(p.type).toBe('rejectedIdentifier');
    expect(p.subproblems.map((s) => [s.type, s.identifier.value])).toEqual([
      ['rejectedIdentifier', 'bad_.example'],
      ['unsupportedIdentifier', 'x@example.com'],
    ]);
    expect(p.toDocument().subproblems?.[1]?.type).toBe('urn:ietf:params:acme:error:unsupportedIdentifier');
  });

  it('refuses an empty or missing list as malformed', () => {
    expect(problem(() => checkOrderIdentifiers([])).type).toBe('malformed');
    expect(problem(() => checkOrderIdentifiers(undefined)).type).toBe('malformed');
    expect(problem(() => checkOrderIdentifiers([{ type: 'dns' }])).type).toBe('malformed');
  });
});
