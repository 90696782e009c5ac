// The parts `certmint serve` and the admin commands build from the config (serve.ts puts them together).
import path from 'node:path';
import type { DirectoryMeta } from '../acme/context.js';
import { AcmeUrls } from '../acme/urls.js';
import type { CaOptions } from '../ca/ca-files.js';
import { NameConstraintError, parseNameConstraint, type NameConstraints } from '../ca/name-constraints.js';
import { ConfigError, type Config } from '../config/config.js';
import { AccessPolicy, PolicyConfigError } from '../policy/access.js';
import type { SecretSealer } from '../ra/eab.js';
import { SecretBox } from '../ca/secret-box.js';
import { configuredKeyPassphrase } from '../ca/key-passphrase.js';
import { type Clock } from '../core/clock.js';
import { type LedgerSettings } from '../ledger/open-ledger.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import type { CertificateAuthority } from '../ca/types.js';
import { CrlPublisher, type CrlPublisherOptions } from '../crl/crl-publisher.js';
import type { RaPolicy } from '../ra/deps.js';
import { RegistrationAuthority } from '../ra/registration-authority.js';
import { createResolver } from '../validation/resolver.js';
import { createValidator } from '../validation/validator.js';
import { ownEndpoint } from '../validation/own-endpoint.js';
import type { IssuanceMetrics } from '../ra/metrics.js';

export function caOptions(config: Config, crypto: Crypto): CaOptions {
  // What new certificates name as their CRL and issuer: the plain-HTTP publication URL when there
  // is one (relying parties must not need TLS to check a chain), else the ACME server's.
  const urls = new AcmeUrls(config.publication.baseUrl ?? config.server.baseUrl);
  return {
    dir: path.join(config.dataDir, 'ca'),
    keyAlgorithm: config.ca.keyAlgorithm,
    rootLifetimeMs: config.ca.rootLifetimeMs,
    intermediateLifetimeMs: config.ca.intermediateLifetimeMs,
    name: config.ca.name,
    crlUrl: urls.crl,
    crlPartitions: config.crl.partitions,
    caIssuersUrl: urls.intermediate,
    crypto,
    keyPassphrase: configuredKeyPassphrase(config.ca.keyPassphraseFile, process.env),
    offlineRoot: config.ca.offlineRoot,
    nameConstraints: configuredNameConstraints(config),
  };
}

/** ca.nameConstraints, parsed. @throws ConfigError naming the key and the entry of a bad one. */
export function configuredNameConstraints(config: Config): NameConstraints {
  const parse = (list: 'permitted' | 'excluded') =>
    config.ca.nameConstraints[list].map((text, i) => {
      try {
        return parseNameConstraint(text);
      } catch (e) {
        if (e instanceof NameConstraintError) throw new ConfigError(`ca.nameConstraints.${list}[${i}]: ${e.message}`);
        throw e;
      }
    });
  return { permitted: parse('permitted'), excluded: parse('excluded') };
}

export function raPolicy(config: Config): RaPolicy {
  return {
    defaultLifetimeMs: config.ca.leafLifetimeMs,
    maxLifetimeMs: config.policy.maxLifetimeMs,
    orderLifetimeMs: config.policy.orderLifetimeMs,
    pendingAuthorizationLifetimeMs: config.policy.pendingAuthorizationLifetimeMs,
    authorizationLifetimeMs: config.policy.authorizationLifetimeMs,
    termsOfServiceRequired: config.acme.termsOfService !== undefined,
    challengeAnswerWithinMs: config.validation.answerWithinMs,
    validationBounds: { maxConcurrent: config.validation.maxConcurrent, maxConcurrentPerAccount: config.validation.maxConcurrentPerAccount },
    eabRequired: config.eab.required,
  };
}

/** The named access policies of the config. @throws ConfigError naming the key of a bad pattern. */
export function accessPolicies(config: Config): Map<string, AccessPolicy> {
  const out = new Map<string, AccessPolicy>();
  for (const [name, p] of Object.entries(config.policies)) {
    try {
      out.set(name, new AccessPolicy(name, p));
    } catch (e) {
      if (e instanceof PolicyConfigError) throw new ConfigError(e.message);
      throw e;
    }
  }
  return out;
}

/** The box that seals EAB HMAC keys, keyed by a file beside the CA keys. */
export function secretBox(config: Config): Promise<SecretBox> {
  return SecretBox.open(path.join(config.dataDir, 'ca'));
}

export interface RaParts {
  readonly ledger: CertificateLedger;
  readonly ca: CertificateAuthority;
  readonly clock: Clock;
  readonly crypto?: Crypto;
  readonly onRevoked?: (serial: string) => void;
  readonly onBackgroundError?: (err: unknown) => void;
  readonly secrets?: SecretSealer;
  readonly metrics?: IssuanceMetrics;
}

/** The use cases as `certmint serve` runs them: validators, CAA and policy from the config. */
export function registrationAuthority(config: Config, parts: RaParts): RegistrationAuthority {
  const urls = new AcmeUrls(config.server.baseUrl);
  const v = config.validation;
  return new RegistrationAuthority({
    ...parts,
    policy: raPolicy(config),
    policies: accessPolicies(config),
    profiles: config.profiles,
    limits: config.limits,
    accountUrl: (id) => urls.account(id),
    validator: createValidator({
      resolver: createResolver(v.dnsResolvers, v.timeoutMs),
      timeoutMs: v.timeoutMs,
      http01Port: v.http01Port,
      tlsAlpn01Port: v.tlsAlpn01Port,
      isOwnEndpoint: ownEndpoint({ host: config.server.host, port: config.server.port }),
      deniedNetworks: v.deniedNetworks,
      ...(v.caa.enabled ? { caa: { identities: caaIdentities(config), recheckAfterMs: v.caa.recheckAfterMs } } : {}),
      dnsPersist: { issuerDomainNames: v.dnsPersist.issuerDomainNames },
      clock: parts.clock,
      failureRate: v.testFailureRate,
    }),
  });
}

/**
 * What this CA calls itself in CAA records: validation.caa.identities and dns-persist-01's issuer
 * domain names. draft-ietf-acme-dns-persist-01 §2 lets issuer-domain-names be drawn from
 * meta.caaIdentities, so the directory lists both and the CAA check accepts both: what the
 * directory says is then true.
 */
export function caaIdentities(config: Config): string[] {
  return [...new Set([...config.validation.caa.identities, ...config.validation.dnsPersist.issuerDomainNames])];
}

/** Directory `meta` (RFC 8555 §7.1.1) from the config. */
export function directoryMeta(config: Config): DirectoryMeta {
  return {
    ...(config.acme.termsOfService ? { termsOfService: config.acme.termsOfService } : {}),
    ...(config.acme.website ? { website: config.acme.website } : {}),
    ...(caaIdentities(config).length > 0 ? { caaIdentities: caaIdentities(config) } : {}),
    ...(config.validation.dnsPersist.issuerDomainNames.length > 0 ? { dnsPersistIssuerDomainNames: config.validation.dnsPersist.issuerDomainNames } : {}),
    profiles: Object.fromEntries(Object.entries(config.profiles).map(([name, p]) => [name, p.description])),
    externalAccountRequired: config.eab.required,
  };
}

export function crlPublisher(
  config: Config,
  ledger: CertificateLedger,
  ca: CertificateAuthority,
  clock: Clock,
  log: CrlPublisherOptions['log'],
): CrlPublisher {
  return new CrlPublisher({ ledger, ca, clock, dir: path.join(config.dataDir, 'crl'), policy: config.crl, log });
}

/**
 * Slow or idle clients (slowloris) cannot hold the server: a connection gets headersTimeout for its
 * TLS handshake and request headers, requestTimeout for a whole request, keepAliveTimeout between
 * requests. Node checks those every connectionsCheckingInterval (30 s by default: too coarse here).
 */
export function connectionBounds(config: Config) {
  return {
    headersTimeout: config.server.headersTimeoutMs,
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.server.headersTimeoutMs),
  };
}

export function ledgerFile(config: Config): string {
  return path.join(config.dataDir, 'ledger.sqlite3');
}

/** Which ledger the config names (openLedger): SQLite in dataDir, or PostgreSQL at ledger.url. */
export function ledgerSettings(config: Config): LedgerSettings {
  const { url, passwordFile, poolSize } = config.ledger;
  return {
    sqliteFile: ledgerFile(config),
    ...(url ? { postgres: { url, passwordFile, poolSize }, source: 'check ledger.url and ledger.passwordFile' } : {}),
  };
}
