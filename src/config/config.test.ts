import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { envName } from './env.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  it('defaults to https://localhost:8443 with ./data and 45-day leaves', () => {
    const c = loadConfig({ env: {}, cwd: '/srv' });
    expect(c.server.baseUrl).toBe('https://localhost:8443');
    expect(c.server.port).toBe(8443);
    expect(c.server.host).toBe('::');
    expect(c.dataDir).toBe('/srv/data');
    expect(c.ca.leafLifetimeMs).toBe(45 * 86_400_000);
    expect(c.validation.http01Port).toBe(80);
    expect(c.server.tls.hostnames).toEqual(['localhost', '127.0.0.1', '::1']);
  });

  it('reads YAML and lets the environment override it', () => {
    const f = file('a.yaml', 'server:\n  listen: 127.0.0.1:9443\nvalidation:\n  http01Port: 5002\n  timeout: 3s\n');
    const c = loadConfig({
      file: f,
      env: { CERTMINT_VALIDATION_DNS_RESOLVERS: '127.0.0.1:8053, [::1]:53', CERTMINT_SERVER_TLS_ENABLED: 'false' },
    });
    expect(c.server.port).toBe(9443);
    expect(c.server.baseUrl).toBe('http://localhost:9443');
    expect(c.validation.http01Port).toBe(5002);
    expect(c.validation.timeoutMs).toBe(3000);
    expect(c.validation.dnsResolvers).toEqual(['127.0.0.1:8053', '[::1]:53']);
  });

  it('keeps a configured baseUrl (the proxy URL) without a trailing slash', () => {
    const c = loadConfig({ env: { CERTMINT_SERVER_BASE_URL: 'https://acme.example.internal/' } });
    expect(c.server.baseUrl).toBe('https://acme.example.internal');
  });

  it('names the file and the key when a value is wrong', () => {
    const f = file('bad.yaml', 'validation:\n  http01Port: seventy\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: f, env: {} })).toThrow(/bad\.yaml.*validation\.http01Port/);
  });

  it('validation.deniedNetworks: empty by default; CIDRs (or one address) from YAML or the environment; anything else refused naming the key', () => {
    expect(loadConfig({ env: {} }).validation.deniedNetworks).toEqual([]);
    const f = file('denied.yaml', 'validation:\n  deniedNetworks: ["10.0.0.0/8", "fd00::/8", "192.0.2.7"]\n');
    expect(loadConfig({ file: f, env: {} }).validation.deniedNetworks.map((r) => r.text)).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.7/32']);
    // Host bits past the prefix are cleared, as Go's net.ParseCIDR reads them.
    const env = { CERTMINT_VALIDATION_DENIED_NETWORKS: '10.1.2.3/8, 2001:db8::1/32' };
    expect(loadConfig({ env }).validation.deniedNetworks.map((r) => r.text)).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0/8', 'example.com', '10.0.0.0/', '10.0.0.0/-1', 'fe80::1%eth0/64', '10.0.0.0/8/8']) {
      expect(() => loadConfig({ env: { CERTMINT_VALIDATION_DENIED_NETWORKS: bad } }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ env: { CERTMINT_VALIDATION_DENIED_NETWORKS: bad } }), bad).toThrow(/validation\.deniedNetworks\[0\] .* is not a network/);
    }
  });

  it('names an unknown key', () => {
    const f = file('unknown.yaml', 'sever:\n  listen: 1\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(/sever/);
  });

  it('refuses broken YAML and a missing file with the path', () => {
    const f = file('broken.yaml', 'server: [\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(/broken\.yaml is not valid YAML/);
    expect(() => loadConfig({ file: path.join(dir, 'nope.yaml'), env: {} })).toThrow(/cannot read config file .*nope\.yaml/);
  });

  it('refuses a YAML tag it does not know, in one line, instead of reading the value as a string', () => {
    const f = file('tagged.yaml', 'dataDir: !secret /var/lib/certmint\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(/^config file .*tagged\.yaml is not valid YAML: Unresolved tag: !secret[^\n]*$/);
  });

  it('refuses a default leaf lifetime above the maximum', () => {
    expect(() => loadConfig({ env: { CERTMINT_CA_LEAF_LIFETIME: '100d' } })).toThrow(/leafLifetime/);
  });

  it('reads the validation settings (CAA, answerWithin, test failure rate) from the environment', () => {
    const c = loadConfig({
      env: {
        CERTMINT_VALIDATION_CAA_ENABLED: 'true',
        CERTMINT_VALIDATION_CAA_IDENTITIES: 'CA.Example.internal, certmint.test',
        CERTMINT_VALIDATION_ANSWER_WITHIN: '2s',
        CERTMINT_VALIDATION_TEST_FAILURE_RATE: '0.25',
        CERTMINT_VALIDATION_CAA_RECHECK_AFTER: '90m',
        CERTMINT_VALIDATION_MAX_CONCURRENT: '50',
        CERTMINT_VALIDATION_MAX_CONCURRENT_PER_ACCOUNT: '5',
      },
    });
    expect(c.validation).toMatchObject({
      caa: { enabled: true, identities: ['ca.example.internal', 'certmint.test'], recheckAfterMs: 90 * 60_000 },
      answerWithinMs: 2000,
      testFailureRate: 0.25,
      maxConcurrent: 50,
      maxConcurrentPerAccount: 5,
    });
    expect(loadConfig({ env: {} }).validation).toMatchObject({ maxConcurrent: 200, maxConcurrentPerAccount: 20 });
    // 0 would start nothing, ever: every challenge would stay processing.
    expect(() => loadConfig({ env: { CERTMINT_VALIDATION_MAX_CONCURRENT_PER_ACCOUNT: '0' } })).toThrow(/maxConcurrentPerAccount/);
    expect(() => loadConfig({ env: { CERTMINT_VALIDATION_CAA_ENABLED: 'true' } })).toThrow(/validation.caa.identities is empty/);
    expect(() => loadConfig({ env: { CERTMINT_VALIDATION_TEST_FAILURE_RATE: '2' } })).toThrow(/testFailureRate/);
  });

  it('server.trustedProxies: none by default; addresses and CIDR networks; anything else refused naming the entry', () => {
    expect(loadConfig({ env: {} }).server.trustedProxies).toEqual([]);
    const c = loadConfig({ env: { CERTMINT_SERVER_TRUSTED_PROXIES: '10.0.0.5, 10.1.0.0/16,fd00::/8 ,::1' } });
    expect(c.server.trustedProxies).toEqual(['10.0.0.5', '10.1.0.0/16', 'fd00::/8', '::1']);
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.0/8/8', 'fe80::1%eth0', '10.0.0.0/', '010.0.0.1', '*']) {
      expect(() => loadConfig({ env: { CERTMINT_SERVER_TRUSTED_PROXIES: bad } }), bad).toThrow(
        `server.trustedProxies: "${bad}" is not an IP address or CIDR network`,
      );
    }
  });

  it('keeps the built-in profiles, adds configured ones, and refuses lifetimes and policy references that cannot hold', () => {
    const f = file('profiles.yaml', 'profiles:\n  ci:\n    description: CI runners\n    lifetime: 6h\n    usage: client\n');
    const c = loadConfig({ file: f, env: {} });
    expect(Object.keys(c.profiles)).toEqual(['default', 'shortlived', 'mtls', 'ci']);
    expect(c.profiles.ci).toMatchObject({ lifetimeMs: 6 * 3_600_000, maxLifetimeMs: 6 * 3_600_000, usage: 'client', commonName: true });
    expect(c.profiles.default).toMatchObject({ lifetimeMs: 45 * 86_400_000, maxLifetimeMs: 90 * 86_400_000, usage: 'both' });
    const long = file('long.yaml', 'profiles:\n  year:\n    description: too long\n    lifetime: 365d\n');
    expect(() => loadConfig({ file: long, env: {} })).toThrow('profiles.year.lifetime (365d) exceeds policy.maxLifetime (90d)');
    const badRef = file('ref.yaml', 'policies:\n  team:\n    profiles: [gold]\n');
    expect(() => loadConfig({ file: badRef, env: {} })).toThrow(/policies.team.profiles names gold, not in profiles/);
  });

  it('policies.<name>.preAuthorized: off by default; needs a non-empty allow; preAuthorizedWildcards needs preAuthorized', () => {
    const ok = file('preauth.yaml', 'policies:\n  ci:\n    allow: ["*.ci.internal"]\n    preAuthorized: true\n    preAuthorizedWildcards: true\n  team:\n    allow: [a.internal]\n');
    const c = loadConfig({ file: ok, env: {} });
    expect(c.policies.ci).toMatchObject({ preAuthorized: true, preAuthorizedWildcards: true });
    expect(c.policies.team).toMatchObject({ preAuthorized: false, preAuthorizedWildcards: false });
    for (const allow of ['', '    allow: []\n']) {
      const noAllow = file('no-allow.yaml', `policies:\n  ci:\n${allow}    preAuthorized: true\n`);
      expect(() => loadConfig({ file: noAllow, env: {} })).toThrow(/^policies\.ci\.preAuthorized is true but policies\.ci\.allow is empty: list the names .*$/);
    }
    const alone = file('alone.yaml', 'policies:\n  ci:\n    allow: ["*.ci.internal"]\n    preAuthorizedWildcards: true\n');
    expect(() => loadConfig({ file: alone, env: {} })).toThrow(/^policies\.ci\.preAuthorizedWildcards is true but policies\.ci\.preAuthorized is not: set preAuthorized: true/);
  });

  it('config/certmint.example.yaml loads and states the defaults', () => {
    const example = loadConfig({ file: path.join(import.meta.dirname, '../../config/certmint.example.yaml'), env: {}, cwd: '/srv' });
    expect(example).toEqual(loadConfig({ env: {}, cwd: '/srv' }));
  });

  it('ledger: url, passwordFile (made absolute) and poolSize, from YAML or the environment; bad values refused without the password', () => {
    expect(loadConfig({ env: {}, cwd: '/srv' }).ledger).toEqual({ url: undefined, passwordFile: undefined, poolSize: 10, retentionMs: 30 * 86_400_000 });
    const env = {
      CERTMINT_LEDGER_URL: 'postgres://certmint@db:5432/certmint?sslmode=require',
      CERTMINT_LEDGER_PASSWORD_FILE: 'secrets/db-password',
      CERTMINT_LEDGER_POOL_SIZE: '25',
    };
    expect(loadConfig({ env, cwd: '/srv' }).ledger).toEqual({
      url: 'postgres://certmint@db:5432/certmint?sslmode=require',
      passwordFile: '/srv/secrets/db-password',
      poolSize: 25,
      retentionMs: 30 * 86_400_000,
    });
    expect(loadConfig({ env: { CERTMINT_LEDGER_RETENTION: '0' } }).ledger.retentionMs).toBe(0);
    expect(loadConfig({ env: { CERTMINT_LEDGER_RETENTION: '90d' } }).ledger.retentionMs).toBe(90 * 86_400_000);
    expect(() => loadConfig({ env: { CERTMINT_LEDGER_RETENTION: 'soon' } })).toThrow(/ledger\/retention|ledger\.retention/);
    const yaml = file('ledger.yaml', 'ledger:\n  url: postgresql://certmint@db/certmint\n  poolSize: 1000\n');
    expect(loadConfig({ file: yaml, env: {} }).ledger.poolSize).toBe(1000);
    for (const poolSize of ['0', '1001', '2.5']) {
      expect(() => loadConfig({ env: { ...env, CERTMINT_LEDGER_POOL_SIZE: poolSize } })).toThrow(/ledger\/poolSize|ledger\.poolSize/);
    }
    expect(() => loadConfig({ env: { CERTMINT_LEDGER_PASSWORD_FILE: '/run/secrets/db' } })).toThrow('ledger.passwordFile is set but ledger.url is not');
    const both = () => loadConfig({ env: { ...env, CERTMINT_LEDGER_URL: 'postgres://certmint:hunter2@db/certmint' } });
    expect(both).toThrow(ConfigError);
    expect(both).toThrow('ledger.url (postgres://certmint:…@db/certmint) has a password and ledger.passwordFile is set too');
    const refusal = (url: string): string => {
      try {
        loadConfig({ env: { CERTMINT_LEDGER_URL: url } });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error(`${url} was accepted`);
    };
    expect(refusal('mysql://certmint:hunter2@db/certmint')).toMatch(/^ledger\.url must start with postgres:\/\/ \(or postgresql:\/\/\), not mysql:\/\//);
    expect(refusal('postgres://certmint:hunter2@')).toMatch(/^ledger\.url "postgres:\/\/certmint:…@" (is not a URL|names no host)/);
    expect(refusal('postgres://certmint:hunter2@db:99999/certmint')).toMatch(/^ledger\.url "postgres:\/\/certmint:…@db:99999\/certmint" is not a URL/);
    for (const url of ['mysql://certmint:hunter2@db/certmint', 'postgres://certmint:hunter2@', 'postgres://certmint:hunter2@db:99999/certmint']) {
      expect(refusal(url)).not.toContain('hunter2');
    }
    // A unix socket directory instead of a host (libpq's form) is fine.
    expect(loadConfig({ env: { CERTMINT_LEDGER_URL: 'postgres:///certmint?host=/run/postgresql&user=certmint' } }).ledger.url).toMatch(/host=/);
  });

  it('maps keys to environment names', () => {
    expect(envName(['server', 'tls', 'hostnames'])).toBe('CERTMINT_SERVER_TLS_HOSTNAMES');
    expect(envName(['validation', 'http01Port'])).toBe('CERTMINT_VALIDATION_HTTP01_PORT');
    expect(envName(['dataDir'])).toBe('CERTMINT_DATA_DIR');
  });
});

describe('ca.keyProvider and ca.pkcs11', () => {
  const pkcs11Env = {
    CERTMINT_CA_KEY_PROVIDER: 'pkcs11',
    CERTMINT_CA_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
    CERTMINT_CA_PKCS11_TOKEN: 'certmint',
    CERTMINT_CA_PKCS11_PIN_FILE: 'secrets/hsm-pin',
    CERTMINT_CA_PKCS11_INTERMEDIATE_KEY: 'pkcs11:object=certmint-intermediate',
  };

  it('defaults to file keys with no token', () => {
    const c = loadConfig({ env: {} });
    expect(c.ca.keyProvider).toBe('file');
    expect(c.ca.pkcs11).toBeUndefined();
  });

  it('reads every key from the environment, paths resolved', () => {
    const c = loadConfig({ env: { ...pkcs11Env, CERTMINT_CA_PKCS11_ROOT_KEY: 'pkcs11:object=certmint-root' }, cwd: '/srv' });
    expect(c.ca.keyProvider).toBe('pkcs11');
    expect(c.ca.pkcs11).toEqual({
      module: '/usr/lib/softhsm/libsofthsm2.so',
      token: 'certmint',
      pinFile: '/srv/secrets/hsm-pin',
      intermediateKey: 'pkcs11:object=certmint-intermediate',
      rootKey: 'pkcs11:object=certmint-root',
    });
    expect(loadConfig({ env: pkcs11Env }).ca.pkcs11?.rootKey).toBeUndefined();
  });

  it('names the missing key when keyProvider is pkcs11', () => {
    for (const key of ['module', 'token', 'pinFile', 'intermediateKey'] as const) {
      const env: Record<string, string> = { ...pkcs11Env, [envName(['ca', 'pkcs11', key])]: '' };
      expect(() => loadConfig({ env }), key).toThrow(ConfigError);
      expect(() => loadConfig({ env }), key).toThrow(`ca.pkcs11.${key} is required when ca.keyProvider is pkcs11`);
    }
  });

  it('refuses a slot number, a key that is not a pkcs11: URI, and a PIN in the config text', () => {
    expect(() => loadConfig({ env: { ...pkcs11Env, CERTMINT_CA_PKCS11_TOKEN: 'slot:0' } })).toThrow(/looks like a slot number/);
    expect(() => loadConfig({ env: { ...pkcs11Env, CERTMINT_CA_PKCS11_ROOT_KEY: 'certmint-root' } })).toThrow(/ca\.pkcs11\.rootKey "certmint-root" must be an RFC 7512 URI/);
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-config-'));
    const f = path.join(dir, 'pin.yaml');
    writeFileSync(f, 'ca:\n  keyProvider: pkcs11\n  pkcs11:\n    pin: "123456"\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: f, env: {} })).not.toThrow(/123456/);
  });
});
