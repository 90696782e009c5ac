import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { parseDuration } from '../core/duration.js';
import { parseIpRange } from '../core/ip-range.js';
import { redactUrlPassword } from '../core/redact-url.js';
import { withoutTrailingSlashes } from '../core/trailing-slashes.js';
import { createRequire } from 'node:module';
import { CONFIG_SCHEMA, matchesConfigSchema } from './config-schema.generated.js';
import { DEFAULT_CONFIG, MAX_WORKERS } from './defaults.js';
import { resolveAdmin } from './admin.js';
import { resolveIssuerDomainNames } from './dns-persist.js';
import type { ConfigInput } from './schema.js';
import { applyEnvironment, envName, FILE_ONLY_KEYS } from './env.js';
import { resolveNotifications } from './notifications.js';
import { resolvePkcs11 } from './pkcs11.js';
import { resolvePublication } from './publication.js';

export type { Pkcs11Config } from './pkcs11.js';
export type { PublicationConfig } from './publication.js';
export type { Config, PolicyConfig, ProfileConfig } from './config-types.js';
import type { Config, PolicyConfig, ProfileConfig } from './config-types.js';

interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: unknown;
  readonly message: string;
}

/**
 * What is wrong with a config that failed the generated check, in typebox's words. typebox (about
 * 300 ms of module loading) is loaded here, for a config that is refused, and never at a start.
 */
function schemaErrors(raw: unknown): SchemaError[] {
  const { Value } = createRequire(import.meta.url)('typebox/value') as { Value: { Errors(schema: unknown, value: unknown): Iterable<SchemaError> } };
  return [...Value.Errors(CONFIG_SCHEMA, raw)];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Plain = { [k: string]: unknown };

export function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` laid on `base`: nested mappings merged key by key, anything else replaced. */
export function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    // Defined, not assigned: a "__proto__" key in a file stays a key (refused as unknown), never a prototype.
    Object.defineProperty(out, k, { value: isPlain(b) && isPlain(v) ? merge(b, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Loads defaults ← YAML file (if given) ← environment (CERTMINT_*), validates, resolves.
 * Any problem is a ConfigError naming the file and the key, so an operator can fix it.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let raw: Plain = structuredClone(DEFAULT_CONFIG) as unknown as Plain;
  const source = options.file ?? env.CERTMINT_CONFIG;
  if (source) {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${source}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      // A tag YAML does not know (`!secret`, say) is a warning to the yaml package, which would
      // print it and read the value as a plain string: here it is a mistake to fix.
      const doc = parseDocument(text, { logLevel: 'silent' });
      const problem = doc.errors[0] ?? doc.warnings[0];
      if (problem) throw problem;
      parsed = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new ConfigError(`config file ${source} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (!isPlain(parsed)) throw new ConfigError(`config file ${source} must hold a YAML mapping at the top level`);
      raw = merge(raw, parsed);
    }
  }
  for (const key of FILE_ONLY_KEYS) {
    if (env[envName(key)] !== undefined) {
      throw new ConfigError(`${envName(key)} is set, but ${key.join('.')} is a list of objects, set in the config file only: remove the variable`);
    }
  }
  raw = applyEnvironment(raw, env);
  const errors = matchesConfigSchema(raw) ? [] : schemaErrors(raw);
  if (errors.length > 0) {
    const where = source ? `config file ${source}` : 'configuration';
    // additionalProperties: false reports each unknown key as a "false" schema at its own path,
    // before (and, past typebox's error limit, instead of) the additionalProperties error.
    const perKey = errors.some((e) => e.keyword === 'boolean');
    const lines = errors
      .filter((e) => !(perKey && e.keyword === 'additionalProperties'))
      .slice(0, 5)
      .map((e) => {
        // instancePath is a JSON pointer (RFC 6901): "~1" and "~0" stand for "/" and "~".
        const keys = e.instancePath.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
        const dotted = (k: readonly string[]) => k.join('.') || '(top level)';
        if (e.keyword === 'boolean') {
          const parent = keys.slice(0, -1);
          return parent.length === 1 && (parent[0] === 'profiles' || parent[0] === 'policies')
            ? `${dotted(parent)}: ${JSON.stringify(keys.at(-1))} is not a name (letters, digits, "_", "." and "-", starting with a letter or digit)`
            : `${dotted(parent)}: unknown key ${JSON.stringify(keys.at(-1))}`;
        }
        const extra =
          e.keyword === 'additionalProperties' ? `: unknown key(s) ${JSON.stringify(e.params)}` : '';
        return `${dotted(keys)}: ${e.message}${extra}`;
      });
    throw new ConfigError(`${where} is invalid: ${lines.join('; ')}`);
  }
  return resolveConfig(raw as unknown as ConfigInput, cwd);
}

function parseListen(listen: string, key = 'server.listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  // In brackets an IPv6 literal (zone id allowed: a link-local address names its interface);
  // otherwise an IPv4 address or a host name, which listen() resolves.
  const hostOk = m && (m[1] !== undefined ? isIPv6(m[1]) : m[2] === '' || isIPv4(m[2]!) || isHostName(m[2]!));
  if (!m || !hostOk) throw new ConfigError(`${key} "${listen}" must be host:port (e.g. 0.0.0.0:8443 or [::]:8443)`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${key} port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** RFC 1123 §2.1: a host name never ends in an all-numeric label ("256.0.0.1" is a bad address, not a name). */
const isHostName = (host: string): boolean => HOST_NAME.test(host) && !/(^|\.)\d+$/.test(host);
/** Node's timers (setTimeout, socket and TLS handshake timeouts) fire at once beyond 2^31-1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
/** Far enough for any lifetime, and its end still has the 4-digit year X.509 dates need (RFC 5280 §4.1.2.5). */
const MAX_DURATION_MS = 36_500 * 86_400_000;

/** A path Node's fs can take: no NUL byte. */
function checkPath(key: string, value: string): void {
  if (value.includes('\0')) throw new ConfigError(`${key} ${JSON.stringify(value)} contains a NUL byte, which no file path may have`);
}

/** ledger.url with any password in it replaced by "…", for messages and logs. */
export const redactLedgerUrl = redactUrlPassword;

/** ledger.url is a postgres:// or postgresql:// URL with a host; the message never repeats a password. */
function checkLedgerUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`ledger.url "${redactLedgerUrl(url)}" is not a URL: write postgres://user@host:5432/database, or leave it empty for SQLite in dataDir`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new ConfigError(`ledger.url must start with postgres:// (or postgresql://), not ${u.protocol}//: the only other ledger is SQLite in dataDir, chosen by leaving ledger.url empty`);
  }
  if (u.hostname === '' && !u.searchParams.has('host')) throw new ConfigError(`ledger.url "${redactLedgerUrl(url)}" names no host: write postgres://user@host:5432/database`);
}

/** A server.trustedProxies entry, checked: proxy-addr would read a typo as a network nobody meant. */
function trustedProxy(entry: string): string {
  const text = entry.trim();
  if (parseIpRange(text) === undefined) {
    throw new ConfigError(`server.trustedProxies: "${entry}" is not an IP address or CIDR network (e.g. 10.0.0.5 or 10.0.0.0/8)`);
  }
  return text;
}

function resolveConfig(c: ConfigInput, cwd: string): Config {
  const workers = c.server.workers === 'auto' ? autoWorkers() : c.server.workers;
  // For the sections resolved in their own files (which cannot import ConfigError: it is defined here).
  const fail = (message: string): never => {
    throw new ConfigError(message);
  };
  const { host, port } = parseListen(c.server.listen);
  const scheme = c.server.tls.enabled ? 'https' : 'http';
  let baseUrl = c.server.baseUrl.trim() || `${scheme}://localhost:${port}`;
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
    baseUrl = u.origin + withoutTrailingSlashes(u.pathname);
  } catch {
    throw new ConfigError(`server.baseUrl "${c.server.baseUrl}" must be an absolute http(s) URL`);
  }
  const ms = (key: string, v: string | number, max = MAX_DURATION_MS): number => {
    let n: number;
    try {
      n = parseDuration(v);
    } catch (e) {
      throw new ConfigError(`${key}: ${(e as Error).message}`);
    }
    if (n > max) {
      throw new ConfigError(
        max === MAX_TIMER_MS
          ? `${key}: ${JSON.stringify(v)} is longer than 24d (${MAX_TIMER_MS} ms), the longest timer Node.js runs`
          : `${key}: ${JSON.stringify(v)} is longer than 36500d (100 years)`,
      );
    }
    // Whole milliseconds: Node refuses fractional server timeouts.
    return Math.round(n);
  };
  const timer = (key: string, v: string | number): number => ms(key, v, MAX_TIMER_MS);
  checkPath('dataDir', c.dataDir);
  checkPath('ca.keyPassphraseFile', c.ca.keyPassphraseFile);
  checkPath('ledger.passwordFile', c.ledger.passwordFile);
  const ledgerUrl = c.ledger.url.trim();
  if (ledgerUrl !== '') checkLedgerUrl(ledgerUrl);
  if (c.ledger.passwordFile.trim() !== '') {
    if (ledgerUrl === '') throw new ConfigError('ledger.passwordFile is set but ledger.url is not: the password file is for the PostgreSQL ledger (postgres://…)');
    if (new URL(ledgerUrl).password !== '') {
      throw new ConfigError(`ledger.url (${redactLedgerUrl(ledgerUrl)}) has a password and ledger.passwordFile is set too: keep one (the file keeps it out of the config)`);
    }
  }
  // Node refuses a headers timeout longer than the request timeout (0 turns either off).
  const headersTimeoutMs = timer('server.headersTimeout', c.server.headersTimeout);
  const requestTimeoutMs = ms('server.requestTimeout', c.server.requestTimeout);
  if (headersTimeoutMs > 0 && requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`server.headersTimeout (${c.server.headersTimeout}) must not be longer than server.requestTimeout (${c.server.requestTimeout})`);
  }
  const maxLifetimeMs = ms('policy.maxLifetime', c.policy.maxLifetime);
  const leafLifetimeMs = ms('ca.leafLifetime', c.ca.leafLifetime);
  if (leafLifetimeMs > maxLifetimeMs) {
    throw new ConfigError(`ca.leafLifetime (${c.ca.leafLifetime}) exceeds policy.maxLifetime (${c.policy.maxLifetime})`);
  }
  if (ms('crl.refresh', c.crl.refresh) >= ms('crl.validity', c.crl.validity)) {
    throw new ConfigError(`crl.refresh (${c.crl.refresh}) must be shorter than crl.validity (${c.crl.validity})`);
  }
  // A revocation waits at most crl.minInterval for its CRL; longer than the refresh, it would mean nothing.
  if (ms('crl.minInterval', c.crl.minInterval) >= ms('crl.refresh', c.crl.refresh)) {
    throw new ConfigError(`crl.minInterval (${c.crl.minInterval}) must be shorter than crl.refresh (${c.crl.refresh})`);
  }
  if (!('default' in c.profiles)) throw new ConfigError('profiles.default is missing: it is the profile of every order that names none');
  for (const [name, p] of Object.entries(c.policies)) {
    const unknown = (p.profiles ?? []).filter((profile) => !Object.hasOwn(c.profiles, profile));
    if (unknown.length > 0) {
      throw new ConfigError(`policies.${name}.profiles names ${unknown.join(', ')}, not in profiles (${Object.keys(c.profiles).join(', ')})`);
    }
    // An empty allow list means "any name": pre-authorizing that would make the EAB key a credential for every name.
    if (p.preAuthorized === true && (p.allow ?? []).length === 0) {
      throw new ConfigError(
        `policies.${name}.preAuthorized is true but policies.${name}.allow is empty: list the names its accounts may get without a challenge (e.g. allow: ["*.apps.internal"]), or remove preAuthorized`,
      );
    }
    if (p.preAuthorizedWildcards === true && p.preAuthorized !== true) {
      throw new ConfigError(`policies.${name}.preAuthorizedWildcards is true but policies.${name}.preAuthorized is not: set preAuthorized: true as well, or remove preAuthorizedWildcards (alone it does nothing)`);
    }
  }
  if (c.validation.caa.enabled && c.validation.caa.identities.length === 0) {
    throw new ConfigError(
      'validation.caa.enabled is true but validation.caa.identities is empty: list the issuer domain names your CAA records use for this CA (e.g. ["ca.example.internal"])',
    );
  }
  const issuerDomainNames = resolveIssuerDomainNames(c, fail);
  return {
    server: {
      host,
      port,
      baseUrl,
      tls: {
        enabled: c.server.tls.enabled,
        hostnames: c.server.tls.hostnames,
        lifetimeMs: ms('server.tls.lifetime', c.server.tls.lifetime),
      },
      bodyLimit: c.server.bodyLimit,
      headersTimeoutMs,
      requestTimeoutMs,
      bodyTimeoutMs: timer('server.bodyTimeout', c.server.bodyTimeout),
      keepAliveTimeoutMs: timer('server.keepAliveTimeout', c.server.keepAliveTimeout),
      maxConnections: c.server.maxConnections,
      maxConnectionsPerAddress: c.server.maxConnectionsPerAddress,
      trustedProxies: c.server.trustedProxies.map((entry) => trustedProxy(entry)),
      http2: c.server.http2 === 'auto' ? workers > 1 : c.server.http2,
      workers,
    },
    dataDir: path.resolve(cwd, c.dataDir),
    ca: {
      name: c.ca.name,
      keyAlgorithm: c.ca.keyAlgorithm,
      rootLifetimeMs: ms('ca.rootLifetime', c.ca.rootLifetime),
      intermediateLifetimeMs: ms('ca.intermediateLifetime', c.ca.intermediateLifetime),
      leafLifetimeMs,
      keyPassphraseFile: c.ca.keyPassphraseFile.trim() ? path.resolve(cwd, c.ca.keyPassphraseFile.trim()) : undefined,
      keyProvider: c.ca.keyProvider,
      offlineRoot: c.ca.offlineRoot,
      pkcs11: c.ca.keyProvider === 'pkcs11' ? resolvePkcs11(c.ca.pkcs11, cwd, fail) : undefined,
      nameConstraints: { permitted: c.ca.nameConstraints.permitted, excluded: c.ca.nameConstraints.excluded },
    },
    acme: { termsOfService: c.acme.termsOfService || undefined, website: c.acme.website || undefined },
    validation: {
      http01Port: c.validation.http01Port,
      tlsAlpn01Port: c.validation.tlsAlpn01Port,
      dnsResolvers: c.validation.dnsResolvers,
      deniedNetworks: c.validation.deniedNetworks.map((text, i) => {
        const parsed = parseIpRange(text);
        if (!parsed) {
          throw new ConfigError(
            `validation.deniedNetworks[${i}] ${JSON.stringify(text)} is not a network: write a CIDR such as 10.0.0.0/8 or fd00::/8 (or one address)`,
          );
        }
        return parsed;
      }),
      timeoutMs: timer('validation.timeout', c.validation.timeout),
      answerWithinMs: timer('validation.answerWithin', c.validation.answerWithin),
      maxConcurrent: c.validation.maxConcurrent,
      maxConcurrentPerAccount: c.validation.maxConcurrentPerAccount,
      caa: {
        enabled: c.validation.caa.enabled,
        identities: c.validation.caa.identities.map((d) => d.toLowerCase()),
        recheckAfterMs: ms('validation.caa.recheckAfter', c.validation.caa.recheckAfter),
      },
      dnsPersist: { issuerDomainNames },
      testFailureRate: c.validation.testFailureRate,
    },
    limits: { ...c.limits },
    profiles: Object.fromEntries(
      Object.entries(c.profiles).map(([name, p]) => {
        const lifetimeMs = p.lifetime !== undefined ? ms(`profiles.${name}.lifetime`, p.lifetime) : leafLifetimeMs;
        if (lifetimeMs > maxLifetimeMs) {
          throw new ConfigError(`profiles.${name}.lifetime (${p.lifetime}) exceeds policy.maxLifetime (${c.policy.maxLifetime})`);
        }
        const resolved: ProfileConfig = {
          description: p.description,
          lifetimeMs,
          maxLifetimeMs: p.lifetime !== undefined ? lifetimeMs : maxLifetimeMs,
          usage: p.usage ?? 'both',
          keyUsage: p.keyUsage ?? ['digitalSignature', 'keyEncipherment'],
          keyTypes: p.keyTypes ?? ['rsa', 'ecdsa', 'ed25519'],
          commonName: p.commonName ?? true,
        };
        return [name, resolved];
      }),
    ),
    policies: Object.fromEntries(
      Object.entries(c.policies).map(([name, p]) => {
        const maxLifetime = p.maxLifetime !== undefined ? ms(`policies.${name}.maxLifetime`, p.maxLifetime) : undefined;
        if (maxLifetime !== undefined && maxLifetime > maxLifetimeMs) {
          throw new ConfigError(`policies.${name}.maxLifetime (${p.maxLifetime}) exceeds policy.maxLifetime (${c.policy.maxLifetime})`);
        }
        const resolved: PolicyConfig = {
          allow: p.allow ?? [],
          deny: p.deny ?? [],
          challenges: p.challenges ?? [],
          profiles: p.profiles ?? [],
          preAuthorized: p.preAuthorized ?? false,
          preAuthorizedWildcards: p.preAuthorizedWildcards ?? false,
          ...(maxLifetime !== undefined ? { maxLifetimeMs: maxLifetime } : {}),
        };
        return [name, resolved];
      }),
    ),
    policy: {
      maxLifetimeMs,
      orderLifetimeMs: ms('policy.orderLifetime', c.policy.orderLifetime),
      pendingAuthorizationLifetimeMs: ms('policy.pendingAuthorizationLifetime', c.policy.pendingAuthorizationLifetime),
      authorizationLifetimeMs: ms('policy.authorizationLifetime', c.policy.authorizationLifetime),
    },
    crl: {
      validityMs: ms('crl.validity', c.crl.validity),
      refreshMs: ms('crl.refresh', c.crl.refresh),
      rootValidityMs: ms('crl.rootValidity', c.crl.rootValidity),
      checkIntervalMs: Math.max(timer('crl.checkInterval', c.crl.checkInterval), 100),
      minIntervalMs: timer('crl.minInterval', c.crl.minInterval),
      partitions: c.crl.partitions,
    },
    eab: { required: c.eab.required },
    notifications: resolveNotifications(c.notifications, cwd, { timer, duration: ms }, fail),
    publication: resolvePublication(c.publication, { host, port }, (key, value) => parseListen(value, key), fail),
    admin: resolveAdmin(c.admin, { host, port, tls: c.server.tls.enabled }, (key, value) => parseListen(value, key), fail),
    ledger: {
      url: ledgerUrl || undefined,
      passwordFile: c.ledger.passwordFile.trim() ? path.resolve(cwd, c.ledger.passwordFile.trim()) : undefined,
      poolSize: c.ledger.poolSize,
      retentionMs: ms('ledger.retention', c.ledger.retention),
    },
  };
}

/** server.workers `auto`: the cores this process may run on (the affinity mask: taskset, a container's cpuset), at most MAX_WORKERS. */
function autoWorkers(): number {
  return Math.max(1, Math.min(os.availableParallelism(), MAX_WORKERS));
}
