import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import {
  describeNameConstraints,
  nameConstraintRefusal,
  nameConstraintsExtension,
  nameConstraintsOf,
  NameConstraintError,
  parseNameConstraint,
  parseNameConstraints,
  sameNameConstraints,
  uriConstraintRefusal,
} from './name-constraints.js';

x509.cryptoProvider.set(webcrypto as Crypto);

const nc = parseNameConstraints({
  permitted: ['example.internal', '.corp.example', '10.0.0.0/8', 'fd00::/8', 'spiffe://cluster.local'],
  excluded: ['secret.example.internal', 'ip:10.9.0.0/16'],
});

async function selfSignedWith(ext: x509.Extension): Promise<x509.X509Certificate> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  return x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=constrained',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), ext],
  });
}

describe('name constraint text', () => {
  it('reads DNS names with or without the leading dot as the same subtree', () => {
    expect(parseNameConstraint('.Example.Internal')).toEqual({ kind: 'dns', name: 'example.internal' });
    expect(parseNameConstraint('dns:example.internal')).toEqual({ kind: 'dns', name: 'example.internal' });
  });

  it('reads CIDR ranges, URI hosts and URIs standing for their host', () => {
    expect(parseNameConstraint('fd00::/8')).toMatchObject({ kind: 'ip', range: { text: 'fd00::/8' } });
    expect(parseNameConstraint('uri:cluster.local')).toEqual({ kind: 'uri', host: 'cluster.local' });
    expect(parseNameConstraint('uri:.mesh.internal')).toEqual({ kind: 'uri', host: '.mesh.internal' });
    expect(parseNameConstraint('spiffe://cluster.local')).toEqual({ kind: 'uri', host: 'cluster.local' });
  });

  it.each([
    ['10.0.0.1', /CIDR notation, e\.g\. "10\.0\.0\.1\/32"/],
    ['10.0.0.0-10.0.0.255', /not an IP range in CIDR notation/],
    ['10.1.2.3/8', /bits set past the \/8 prefix; the network is 10\.0\.0\.0\/8/],
    ['10.0.0.0/33', /not an IP range in CIDR notation/],
    ['fd00::1', /CIDR notation/],
    ['*.example.internal', /without "\*\."/],
    ['exa mple.internal', /not a DNS name/],
    ['spiffe://cluster.local/ns/default', /host only/],
    ['spiffe://*.cluster.local', /host only/],
    ['uri:cluster.local:8080', /URI constraint is a host name/],
    ['', /empty/],
  ])('refuses %j with one line naming it', (text, message) => {
    let error: unknown;
    try {
      parseNameConstraint(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NameConstraintError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('checking a name against constraints', () => {
  it.each([
    ['example.internal', undefined],
    ['a.b.example.internal', undefined],
    ['*.example.internal', /excluded name constraint secret\.example\.internal/],
    ['*.a.example.internal', undefined],
    ['x.secret.example.internal', /excluded name constraint secret\.example\.internal/],
    ['notexample.internal', /outside the permitted name constraints \(example\.internal, corp\.example\)/],
    ['corp.example', undefined],
  ])('DNS %s', (value, refusal) => {
    const reason = nameConstraintRefusal(nc, { type: 'dns', value });
    if (refusal === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refusal);
  });

  it.each([
    ['10.1.2.3', undefined],
    ['10.9.0.1', /excluded name constraint 10\.9\.0\.0\/16/],
    ['11.0.0.1', /outside the permitted name constraints \(10\.0\.0\.0\/8, fd00::\/8\)/],
    ['fd00::5', undefined],
    ['2001:db8::1', /outside/],
  ])('IP %s', (value, refusal) => {
    const reason = nameConstraintRefusal(nc, { type: 'ip', value });
    if (refusal === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refusal);
  });

  it('leaves a kind with no permitted subtree unconstrained', () => {
    const uriOnly = parseNameConstraints({ permitted: ['uri:cluster.local'] });
    expect(nameConstraintRefusal(uriOnly, { type: 'dns', value: 'anything.example' })).toBeUndefined();
    expect(uriConstraintRefusal(uriOnly, 'spiffe://cluster.local/ns/default/sa/web')).toBeUndefined();
    expect(uriConstraintRefusal(uriOnly, 'spiffe://other.domain/ns/default/sa/web')).toMatch(/outside the permitted name constraints \(uri:cluster\.local\)/);
  });
});

describe('the extension', () => {
  it('round-trips through DER and reads as OpenSSL prints it', async () => {
    const cert = await selfSignedWith(nameConstraintsExtension(nc));
    const ext = cert.extensions.find((e) => e.type === '2.5.29.30');
    expect(ext?.critical).toBe(true);
    const back = nameConstraintsOf(cert);
    expect(back && sameNameConstraints(back, nc)).toBe(true);
    expect(describeNameConstraints(back)).toBe(
      'permitted: example.internal, corp.example, 10.0.0.0/8, fd00::/8, uri:cluster.local; excluded: secret.example.internal, 10.9.0.0/16',
    );
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: cert.toString('pem') }).toString();
    const section = text.slice(text.indexOf('X509v3 Name Constraints: critical'));
    expect(section).toMatch(/Permitted:\s+DNS:example\.internal\s+DNS:corp\.example\s+IP:10\.0\.0\.0\/255\.0\.0\.0\s+IP:FD00:0:0:0:0:0:0:0\/FF00:0:0:0:0:0:0:0\s+URI:cluster\.local\s+Excluded:\s+DNS:secret\.example\.internal\s+IP:10\.9\.0\.0\/255\.255\.0\.0/);
  });

  it('is absent from a certificate without constraints, and refuses to be empty', async () => {
    expect(() => nameConstraintsExtension({ permitted: [], excluded: [] })).toThrow(NameConstraintError);
    const cert = await selfSignedWith(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true));
    expect(nameConstraintsOf(cert)).toBeUndefined();
    expect(describeNameConstraints(undefined)).toBe('none');
  });
});
