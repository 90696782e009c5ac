import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { DEFAULT_CONFIG } from './defaults.js';
import { anything, durations, FULL, getAt, isObject, keyPaths, lists, namesKey, NODE_MAX_TIMER_MS, OBJECT_PATHS, PATHS, setAt, strings, valueFor } from '../../test/support/hostile-config-values.js';
import { accessPolicies } from '../cli/composition.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { envName } from './env.js';

// Property-based tests (fast-check) of config files and CERTMINT_* overrides: whatever an operator
// writes, loading gives either a config that `certmint serve` can use or a ConfigError naming the
// key, never a TypeError or RangeError with a stack trace. "Can use" is checked against the things
// that consume the values (Node's http/https servers, its DNS resolver and timers, fs, Date), not
// against config.ts's own rules.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
// Each case writes and loads a whole config (a few ms): the time allowed grows with the runs.
const TIMEOUT = 30_000 * Math.max(1, RUNS / 500);
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-hostile-config-'));
const file = path.join(dir, 'certmint.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Outcome = { config: Config } | { error: ConfigError };

/** What `certmint serve` does with a config before touching disk: load it, then read its access policies. */
function load(text: string, env: Record<string, string> = {}): Outcome {
  writeFileSync(file, text);
  try {
    const config = loadConfig({ file, env, cwd: dir });
    accessPolicies(config);
    return { config };
  } catch (e) {
    // Anything else (TypeError, RangeError, …) fails the property with its stack.
    if (!(e instanceof ConfigError)) throw e;
    expect(e.message).not.toMatch(/\n\s+at /);
    return { error: e };
  }
}

const serverValuesTried = new Set<string>();

/** A loaded config is usable: what consumes each value accepts it. */
function expectUsable(c: Config, context: string): void {
  const bounds = {
    headersTimeout: c.server.headersTimeoutMs,
    requestTimeout: c.server.requestTimeoutMs,
    keepAliveTimeout: c.server.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, c.server.headersTimeoutMs),
  };
  // As serve.ts builds its server; Node validates the timeouts (integers, headers <= request).
  // An https server costs milliseconds (a TLS context): each set of values is tried once.
  const tried = `${JSON.stringify(bounds)} ${c.validation.timeoutMs}`;
  if (!serverValuesTried.has(tried)) {
    expect(() => http.createServer(bounds), context).not.toThrow();
    expect(() => https.createServer({ handshakeTimeout: c.server.headersTimeoutMs, ...bounds }), context).not.toThrow();
    expect(() => new Resolver({ timeout: Math.max(1, Math.floor(c.validation.timeoutMs / 3)), tries: 2 }), context).not.toThrow();
    serverValuesTried.add(tried);
  }
  // Values that end up in setTimeout/setInterval or a socket or TLS handshake timeout.
  for (const [key, ms] of Object.entries({
    'server.headersTimeout': c.server.headersTimeoutMs,
    'server.keepAliveTimeout': c.server.keepAliveTimeoutMs,
    'validation.timeout': c.validation.timeoutMs,
    'validation.answerWithin': c.validation.answerWithinMs,
    'crl.checkInterval': c.crl.checkIntervalMs,
  })) {
    expect(Number.isInteger(ms) && ms >= 0 && ms <= NODE_MAX_TIMER_MS, `${key} = ${ms}: ${context}`).toBe(true);
  }
  // Lifetimes are added to now; the end must be a date X.509 can encode (4-digit year).
  const lifetimes = {
    'ca.rootLifetime': c.ca.rootLifetimeMs,
    'ca.intermediateLifetime': c.ca.intermediateLifetimeMs,
    'ca.leafLifetime': c.ca.leafLifetimeMs,
    'server.tls.lifetime': c.server.tls.lifetimeMs,
    'server.requestTimeout': c.server.requestTimeoutMs,
    ...Object.fromEntries(Object.entries(c.policy).map(([k, v]) => [`policy.${k}`, v])),
    ...Object.fromEntries(Object.entries(c.crl).map(([k, v]) => [`crl.${k}`, v])),
    ...Object.fromEntries(Object.entries(c.profiles).map(([k, p]) => [`profiles.${k}.lifetime`, p.lifetimeMs])),
  };
  for (const [key, ms] of Object.entries(lifetimes)) {
    const end = new Date(Date.now() + ms);
    expect(Number.isInteger(ms) && ms >= 0 && end.getUTCFullYear() <= 9999, `${key} = ${ms}: ${context}`).toBe(true);
  }
  // Paths fs takes: it may fail to find or make them (ENOTDIR, ENAMETOOLONG, EACCES: the system's
  // answer, which certmint prints in one line), but must not refuse the argument itself (a NUL byte).
  for (const p of [c.dataDir, c.ca.keyPassphraseFile].filter((p): p is string => p !== undefined)) {
    try {
      statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      expect((e as NodeJS.ErrnoException).syscall, `${p.slice(0, 100)}: ${String(e).slice(0, 200)}: ${context}`).toBe('stat');
    }
  }
  expect(Number.isInteger(c.server.port) && c.server.port >= 0 && c.server.port <= 65535, context).toBe(true);
  expect(isIP(c.server.host) !== 0 || /^[a-z0-9.-]+$/i.test(c.server.host), `host ${c.server.host}: ${context}`).toBe(true);
  expect(['http:', 'https:'], context).toContain(new URL(c.server.baseUrl).protocol);
  for (const [name, p] of Object.entries(c.policies)) {
    for (const profile of p.profiles) expect(Object.hasOwn(c.profiles, profile), `policies.${name}.profiles ${profile}: ${context}`).toBe(true);
  }
}

describe('config files and environment overrides', () => {
  it('a config with one key set to a hostile value loads as a usable config or fails with a ConfigError naming that key', { timeout: TIMEOUT }, async () => {
    const mutation = fc.constantFrom(...PATHS).chain((p) => fc.tuple(fc.constant(p), valueFor(p)));
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(mutation, ([p, value]) => {
        const doc = setAt(FULL, p, value);
        const context = `${p.join('.')} = ${JSON.stringify(value)?.slice(0, 100)}`;
        const outcome = load(toYaml(doc));
        if ('config' in outcome) {
          accepted++;
          expectUsable(outcome.config, context);
          return;
        }
        refused++;
        const { message } = outcome.error;
        // A value that breaks a rule between two keys (leafLifetime <= maxLifetime, …) names both.
        expect(namesKey(message, p), `${context}: ${message}`).toBe(true);
      }),
      { numRuns: RUNS * 2 },
    );
    // Both outcomes are common, so a wrong answer either way would be seen.
    expect(Math.min(refused, accepted)).toBeGreaterThan(RUNS / 10);
  });

  it('unknown keys, at any level, of any name ("__proto__" included) and however many, are refused by name', { timeout: TIMEOUT }, async () => {
    const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'sever', 'Listen', 'data_dir', 'a/b', '~0', 'x.y'), fc.string({ minLength: 1, maxLength: 12 }));
    fc.assert(
      fc.property(fc.constantFrom(...OBJECT_PATHS), fc.uniqueArray(key, { minLength: 1, maxLength: 12 }), anything, (parent, names, value) => {
        const unknown = names.filter((name) => !Object.hasOwn(getAt(FULL, parent) as object, name));
        fc.pre(unknown.length > 0);
        const doc = unknown.reduce((d, name) => setAt(d, [...parent, name], value), FULL);
        const context = `${parent.join('.')} + ${JSON.stringify(unknown)} = ${JSON.stringify(value)?.slice(0, 100)}`;
        const outcome = load(toYaml(doc));
        expect('error' in outcome, context).toBe(true);
        if ('error' in outcome) {
          expect(unknown.some((name) => outcome.error.message.includes(JSON.stringify(name))), `${context}: ${outcome.error.message}`).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a new profile or policy of any name and any content loads as a usable config or fails naming it', { timeout: TIMEOUT }, async () => {
    const name = fc.oneof(fc.constantFrom('', '_p', '-x', 'a b', '__proto__', 'constructor', 'toString', 'ok', 'x.y', 'default'), fc.string({ maxLength: 12 }));
    const entry = fc.oneof(
      anything,
      fc.record({ description: fc.oneof(strings, anything), lifetime: fc.oneof(durations, anything), usage: fc.constantFrom('server', 'client', 'both', 'x') }, { requiredKeys: [] }),
      fc.record({ allow: fc.oneof(lists, anything), deny: lists, challenges: fc.oneof(lists, fc.constant(['http-01'])), maxLifetime: durations, profiles: fc.oneof(lists, fc.constant(['ci', 'toString'])) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(fc.constantFrom('profiles', 'policies'), name, entry, (map, key, value) => {
        const context = `${map}.${key} = ${JSON.stringify(value)?.slice(0, 200)}`;
        const outcome = load(toYaml(setAt(FULL, [map, key], value)));
        if ('config' in outcome) expectUsable(outcome.config, context);
        else expect(outcome.error.message, context).toContain(map);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('any CERTMINT_* override gives a usable config or a ConfigError naming the key or the variable', { timeout: TIMEOUT }, async () => {
    const leaves = keyPaths(DEFAULT_CONFIG).filter((p) => !isObject(getAt(DEFAULT_CONFIG, p)) && !/^\d+$/.test(p.at(-1)!));
    const envValue = fc.oneof(
      fc.constantFrom('', ' ', ',', 'a,,b', ' , ', 'true', 'TRUE', 'yes', 'no', '1', '0', '-1', '0x10', '1e3', '1.5', 'NaN', 'Infinity', '99999999999999999999999'),
      fc.constantFrom('24d', '25d', '36501d', '1.5ms', '[::]:0', '[zz]:1', 'a b:80', 'https://acme.example', 'ecdsa-p384', 'rsa-1024', 'http-01,dns-01'),
      durations.map(String),
      fc.string({ maxLength: 40 }).filter((s) => !s.includes('\u0000')), // an environment cannot hold NUL
    );
    const seen = { runs: 0, accepted: 0 };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...leaves), envValue), { minLength: 1, maxLength: 3 }), (overrides) => {
        const env = Object.fromEntries(overrides.map(([p, v]) => [envName(p), v]));
        const context = JSON.stringify(env).slice(0, 300);
        const outcome = load('{}\n', env);
        seen.runs += 1;
        if ('config' in outcome) {
          seen.accepted += 1;
          expectUsable(outcome.config, context);
          return;
        }
        const { message } = outcome.error;
        const named = overrides.some(([p]) => namesKey(message, p) || message.includes(envName(p)));
        expect(named, `${context}: ${message}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    // Both outcomes are reached (measured: 13-15% of the overrides accepted).
    expect(Math.min(seen.accepted, seen.runs - seen.accepted), JSON.stringify(seen)).toBeGreaterThanOrEqual(seen.runs / 20);
  });

  it('any text as the config file is a usable config or a ConfigError, never anything else', { timeout: TIMEOUT }, async () => {
    const yamlish = fc.string({ unit: fc.constantFrom(...'abc:-[]{}!&*|>?,#%@`\'"\n \t0123456789.~'), maxLength: 120 });
    const docs = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.object({ maxDepth: 3 })).map((d) => toYaml(d));
    const keyed = fc.tuple(fc.constantFrom(...PATHS.map((p) => p[0]!)), yamlish).map(([k, rest]) => `${k}:${rest}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), yamlish, docs, keyed), (text) => {
        const outcome = load(text);
        if ('config' in outcome) expectUsable(outcome.config, JSON.stringify(text).slice(0, 200));
      }),
      { numRuns: RUNS },
    );
  });

  it('server.listen is accepted exactly when it is host:port with a host listen() can take and a port 0-65535', { timeout: TIMEOUT }, async () => {
    const host = fc.oneof(
      fc.constantFrom('', '0.0.0.0', '127.0.0.1', '[::]', '[::1]', '[fe80::1%eth0]', '[2001:db8::1]', '[::ffff:1.2.3.4]', 'localhost', 'acme.example.internal'),
      fc.constantFrom('::1', '[::1', '::1]', '[127.0.0.1]', '[zz]', '[]', 'a b', 'exa_mple', '-bad', 'bad-', '*', '256.0.0.1', '1.2.3', '010.0.0.1', 'localhost.', 'a..b', `${'a'.repeat(64)}.example`),
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
      fc.string({ maxLength: 10 }),
    );
    const port = fc.oneof(fc.constantFrom('0', '1', '80', '8443', '65535', '65536', '99999', '-1', '08443', '', 'a', '1e3', ' 80', '80 '), fc.nat({ max: 70_000 }).map(String));
    fc.assert(
      fc.property(host, port, fc.constantFrom('', ' ', '\t'), (h, p, pad) => {
        const listen = `${pad}${h}:${p}${pad}`;
        const outcome = load('{}\n', { CERTMINT_SERVER_LISTEN: listen });
        const expected = expectedListen(listen);
        const context = `${JSON.stringify(listen)} → ${'error' in outcome ? outcome.error.message : 'accepted'}`;
        if (expected === undefined) {
          expect('error' in outcome, context).toBe(true);
          if ('error' in outcome) expect(outcome.error.message, context).toMatch(/server\.listen/);
        } else {
          expect('config' in outcome, context).toBe(true);
          if ('config' in outcome) expect({ host: outcome.config.server.host, port: outcome.config.server.port }, context).toEqual(expected);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('certmint serve with a config it cannot use exits 1 with one line naming the key or the path, before creating anything', { timeout: TIMEOUT }, async () => {
    requireBuiltCli();
    const dataDir = path.join(dir, 'never-created');
    const listen = { listen: '127.0.0.1:0' };
    for (const [doc, key] of [
      [{ dataDir, server: { ...listen, headersTimeout: '2m' } }, /server\.headersTimeout/],
      [{ dataDir, server: listen, crl: { checkInterval: '30d' } }, /crl\.checkInterval/],
      [{ dataDir, server: listen, ledger: { url: 'postgres://certmint:secret@db/certmint' } }, /ledger\.url/],
      [{ dataDir: 'a\u0000b', server: listen }, /dataDir/],
      // Not a config error but the system's answer for dataDir, in its own words.
      [{ dataDir: path.join(configFileUnder(dir), 'data'), server: listen }, /ENOTDIR: not a directory, mkdir/],
    ] as const) {
      const configFile = path.join(dir, 'serve.yaml');
      writeFileSync(configFile, toYaml(doc));
      const r = await runCli(['serve', '--config', configFile]);
      const context = `${JSON.stringify(doc)} → ${r.code} ${r.stderr.slice(0, 400)}`;
      expect(r.code, context).toBe(1);
      expect(r.stderr.trimEnd().split('\n'), context).toHaveLength(1);
      expect(r.stderr, context).toMatch(key);
      expect(r.stderr, context).not.toMatch(/secret/);
      expect(() => statSync(dataDir), context).toThrow();
    }
  });

  it('regression: values that loaded but broke serve, or were silently ignored, are ConfigErrors', () => {
    // Counterexamples the properties above found.
    for (const [yaml, message] of [
      ['server:\n  headersTimeout: 2m\n', /server\.headersTimeout \(2m\) must not be longer than server\.requestTimeout/],
      ['server:\n  headersTimeout: 1.5\n  keepAliveTimeout: 30d\n', /server\.keepAliveTimeout: "30d" is longer than 24d/],
      ['crl:\n  checkInterval: 25d\n', /crl\.checkInterval: "25d" is longer than 24d/],
      [`crl:\n  validity: ${'9'.repeat(400)}d\n`, /crl\.validity: invalid duration/],
      ['ca:\n  rootLifetime: 99999999d\n', /ca\.rootLifetime: "99999999d" is longer than 36500d/],
      ['server:\n  tls:\n    lifetime: 1e300\n', /server\.tls\.lifetime: 1e\+300 is longer than 36500d/],
      ['dataDir: "a\\0b"\n', /dataDir "a\\u0000b" contains a NUL byte/],
      ['server:\n  listen: "[zz]:1"\n', /server\.listen "\[zz\]:1" must be host:port/],
      ['policies:\n  team:\n    profiles: [toString]\n', /policies\.team\.profiles names toString/],
      ['__proto__:\n  dataDir: /elsewhere\n', /\(top level\): unknown key "__proto__"/],
      // A name outside the pattern of profile and policy names was not checked at all: TypeError later.
      ['policies:\n  "": null\n', /policies: "" is not a name/],
      ['profiles:\n  _p: 7\n', /profiles: "_p" is not a name/],
      // Eight unknown keys are as many errors as typebox reports: the message named none of them.
      [`validation:\n${[...'abcdefgh'].map((k) => `  ${k}: 1\n`).join('')}`, /validation: unknown key "a"; validation: unknown key "b"/],
    ] as const) {
      const outcome = load(yaml);
      expect('error' in outcome ? outcome.error.message : 'accepted', yaml).toMatch(message);
    }
    // Fractional milliseconds are rounded, as "1.5ms" always was.
    const rounded = load('server:\n  headersTimeout: 1.5\n');
    expect('config' in rounded && rounded.config.server.headersTimeoutMs).toBe(2);
  });
});

/** A regular file in `parent`, to put a dataDir under. */
function configFileUnder(parent: string): string {
  const f = path.join(parent, 'a-file');
  writeFileSync(f, '');
  return f;
}

/** RFC 1123 §2.1 host names: LDH labels of 1-63, at most 253 in all, and never all-numeric at the end (that reads as an address). */
function isHostName(h: string): boolean {
  const labels = h.split('.');
  return (
    h.length <= 253 &&
    labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)) &&
    !/^\d+$/.test(labels.at(-1)!)
  );
}

/** What server.listen means: [IPv6]:port, IPv4:port, name:port or :port (every IPv4 address), blanks around it ignored. */
function expectedListen(listen: string): { host: string; port: number } | undefined {
  const text = listen.trim();
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const [h, p] = [text.slice(0, colon), text.slice(colon + 1)];
  if (!/^\d+$/.test(p) || Number(p) > 65535) return undefined;
  const port = Number(p);
  if (h === '') return { host: '0.0.0.0', port };
  if (h.startsWith('[') && h.endsWith(']')) return isIPv6(h.slice(1, -1)) ? { host: h.slice(1, -1), port } : undefined;
  if (isIPv4(h) || isHostName(h)) return { host: h, port };
  return undefined;
}
