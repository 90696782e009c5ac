import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

// validation.dnsPersist.issuerDomainNames (draft-ietf-acme-dns-persist-01 §3.1).
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-config-persist-'));
const KEY = 'CERTMINT_VALIDATION_DNS_PERSIST_ISSUER_DOMAIN_NAMES';
const names = (value: string) => loadConfig({ env: { [KEY]: value } }).validation.dnsPersist.issuerDomainNames;

describe('validation.dnsPersist.issuerDomainNames', () => {
  it('is empty by default, and normalized from the environment (case, trailing dot, IDN, duplicates)', () => {
    expect(loadConfig({ env: {} }).validation.dnsPersist.issuerDomainNames).toEqual([]);
    expect(names('CA.Example.Internal., bücher.example ,ca.example.internal')).toEqual(['ca.example.internal', 'xn--bcher-kva.example']);
  });

  it('is read from YAML', () => {
    const f = path.join(dir, 'yaml.yaml');
    writeFileSync(f, 'validation:\n  dnsPersist:\n    issuerDomainNames: [ca.example.internal]\n');
    expect(loadConfig({ file: f, env: {} }).validation.dnsPersist.issuerDomainNames).toEqual(['ca.example.internal']);
  });

  it('refuses more than 10 names, a name that is not a DNS name, and one over 253 octets, naming the key and the value', () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `ca${i}.example`).join(',');
    expect(() => names(eleven)).toThrow(ConfigError);
    expect(() => names(eleven)).toThrow('validation.dnsPersist.issuerDomainNames lists 11 names; a dns-persist-01 challenge may carry at most 10 (draft-ietf-acme-dns-persist-01 §3.1)');
    expect(() => names('ca.example,ca_bad.example')).toThrow(
      'validation.dnsPersist.issuerDomainNames[1] "ca_bad.example" is not a DNS name of at most 253 octets (letters, digits, inner hyphens; e.g. ca.example.internal)',
    );
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;
    expect(() => names(long)).toThrow(`validation.dnsPersist.issuerDomainNames[0] "${long}" is not a DNS name`);
    expect(() => names('10.0.0.1/8')).toThrow(ConfigError);
  });

  it('lets policies list dns-persist-01, and refuses that with no issuer name, saying how to fix it', () => {
    const f = path.join(dir, 'policy.yaml');
    writeFileSync(f, 'policies:\n  persist:\n    challenges: [dns-persist-01]\n');
    expect(loadConfig({ file: f, env: { [KEY]: 'ca.example.internal' } }).policies.persist!.challenges).toEqual(['dns-persist-01']);
    expect(() => loadConfig({ file: f, env: {} })).toThrow(
      'policies.persist.challenges lists dns-persist-01 but validation.dnsPersist.issuerDomainNames is empty: set validation.dnsPersist.issuerDomainNames (e.g. ["ca.example.internal"]) or remove dns-persist-01 from the list',
    );
  });
});
