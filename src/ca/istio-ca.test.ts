import { describe, expect, it } from 'vitest';
import { checkTrustDomain } from './istio-ca.js';

describe('checkTrustDomain (SPIFFE trust domains)', () => {
  it('accepts host names, trimmed', () => {
    expect(checkTrustDomain('cluster.local')).toBe('cluster.local');
    expect(checkTrustDomain(' prod.example-corp.internal ')).toBe('prod.example-corp.internal');
    expect(checkTrustDomain('mesh')).toBe('mesh');
  });

  it.each([
    ['', /is empty/],
    ['spiffe://cluster.local', /has a scheme/],
    ['*.cluster.local', /has a wildcard/],
    ['cluster.local/ns/default', /has a path/],
    ['cluster.local:443', /has a port/],
    ['Cluster.Local', /upper-case/],
    ['clus ter.local', /not a host name/],
    ['-bad.local', /not a host name/],
    ['a..b', /not a host name/],
  ])('refuses %j with one line naming why', (input, why) => {
    expect(() => checkTrustDomain(input)).toThrow(why);
    expect(() => checkTrustDomain(input)).toThrow(/^--trust-domain .*; write the host part only, e\.g\. cluster\.local$/);
  });
});
