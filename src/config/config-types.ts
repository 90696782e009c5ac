import type { ConfigInput } from './schema.js';
import type { IpRange } from '../core/ip-range.js';
import type { NotificationsConfig } from './notifications.js';
import type { Pkcs11Config } from './pkcs11.js';
import type { PublicationConfig } from './publication.js';

// The shape of a resolved configuration; config.ts (which re-exports it) loads, checks and builds it.

/** The resolved configuration: durations in milliseconds, URLs and paths made absolute. */
export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly baseUrl: string;
    readonly tls: { readonly enabled: boolean; readonly hostnames: readonly string[]; readonly lifetimeMs: number };
    readonly bodyLimit: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    /** From the end of a request's headers to the end of its body; 0: no bound but requestTimeoutMs. */
    readonly bodyTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly maxConnections: number;
    /** 0: no per-address limit. */
    readonly maxConnectionsPerAddress: number;
    /** Proxies (addresses, CIDR networks) whose X-Forwarded-For names the client; empty: none is believed. */
    readonly trustedProxies: readonly string[];
    /** server.http2 (`auto` resolved: true with more than one worker): the HTTPS listener offers h2 by ALPN (no effect without TLS). */
    readonly http2: boolean;
    /** Worker processes (server.workers, `auto` resolved): 1 is one process and no cluster at all. */
    readonly workers: number;
  };
  readonly dataDir: string;
  readonly ca: {
    readonly name: string;
    readonly keyAlgorithm: ConfigInput['ca']['keyAlgorithm'];
    readonly rootLifetimeMs: number;
    readonly intermediateLifetimeMs: number;
    readonly leafLifetimeMs: number;
    /** Absolute; undefined when unset. The passphrase itself never enters the config. */
    readonly keyPassphraseFile: string | undefined;
    readonly keyProvider: 'file' | 'pkcs11';
    /** The root key is kept off this machine: the CA loads without it (ca-files.ts, CaOptions.offlineRoot). */
    readonly offlineRoot: boolean;
    /** Set exactly when keyProvider is pkcs11. The PIN itself never enters the config. */
    readonly pkcs11: Pkcs11Config | undefined;
    /** Their text form; cli/composition.ts parses them (ca/name-constraints.ts), naming a bad entry's key. */
    readonly nameConstraints: { readonly permitted: readonly string[]; readonly excluded: readonly string[] };
  };
  readonly acme: { readonly termsOfService: string | undefined; readonly website: string | undefined };
  readonly validation: {
    readonly http01Port: number;
    readonly tlsAlpn01Port: number;
    readonly dnsResolvers: readonly string[];
    /** Networks validation never connects to, besides the link-local ones it always refuses. */
    readonly deniedNetworks: readonly IpRange[];
    readonly timeoutMs: number;
    readonly answerWithinMs: number;
    /** Validations running at once; more wait for a slot, their challenge POSTs answered `processing`. */
    readonly maxConcurrent: number;
    /** Validations one account may have running at once. */
    readonly maxConcurrentPerAccount: number;
    readonly caa: { readonly enabled: boolean; readonly identities: readonly string[]; readonly recheckAfterMs: number };
    /** Normalized (lowercase A-labels, no trailing dot), at most 10; empty: dns-persist-01 not offered. */
    readonly dnsPersist: { readonly issuerDomainNames: readonly string[] };
    readonly testFailureRate: number;
  };
  readonly limits: {
    readonly newOrdersPerAccountPerHour: number;
    readonly newAccountsPerIpPerHour: number;
    readonly pendingAuthorizationsPerAccount: number;
    readonly newAuthorizationsPerAccountPerHour: number;
    readonly identifiersPerOrder: number;
    readonly revocationsPerAccountPerHour: number;
  };
  /** Certificate profiles by name; "default" always exists. */
  readonly profiles: Readonly<Record<string, ProfileConfig>>;
  /** Named access policies (`policies.<name>`); `default` applies to accounts without one. */
  readonly policies: Readonly<Record<string, PolicyConfig>>;
  readonly policy: {
    readonly maxLifetimeMs: number;
    readonly orderLifetimeMs: number;
    readonly pendingAuthorizationLifetimeMs: number;
    readonly authorizationLifetimeMs: number;
  };
  readonly crl: {
    readonly validityMs: number;
    readonly refreshMs: number;
    readonly rootValidityMs: number;
    readonly checkIntervalMs: number;
    /** Least time between two leaf CRL builds that revocations ask for (crl.minInterval). */
    readonly minIntervalMs: number;
    /** crl.partitions: CRLs per intermediate generation (1: one, as before partitions). */
    readonly partitions: number;
  };
  readonly eab: { readonly required: boolean };
  readonly notifications: NotificationsConfig;
  /** The plain-HTTP listener of CRLs and CA certificates, and the URL new certificates name them under. */
  readonly publication: PublicationConfig;
  /** The admin API: off unless enabled; listen undefined: on the ACME listener; clientCertificates: mTLS on admin.listen only. */
  readonly admin: { readonly enabled: boolean; readonly listen: { readonly host: string; readonly port: number } | undefined; readonly clientCertificates: boolean };
  readonly ledger: {
    /** undefined: SQLite in dataDir. Holds the password when the operator wrote one into it: print it only through redactLedgerUrl. */
    readonly url: string | undefined;
    /** Absolute; undefined when unset. The password itself never enters the config. */
    readonly passwordFile: string | undefined;
    readonly poolSize: number;
    /** Expired orders, authorizations and challenges are purged this long after they expire; 0: never. */
    readonly retentionMs: number;
  };
}

export interface ProfileConfig {
  readonly description: string;
  /** The lifetime of its certificates unless the order asks for less. */
  readonly lifetimeMs: number;
  /** The longest an order may ask for: its lifetime when set, else policy.maxLifetime. */
  readonly maxLifetimeMs: number;
  readonly usage: 'server' | 'client' | 'both';
  readonly keyUsage: readonly ('digitalSignature' | 'keyEncipherment')[];
  readonly keyTypes: readonly ('rsa' | 'ecdsa' | 'ed25519')[];
  readonly commonName: boolean;
}

export interface PolicyConfig {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly challenges: readonly ('http-01' | 'dns-01' | 'tls-alpn-01' | 'dns-persist-01')[];
  readonly maxLifetimeMs?: number;
  readonly profiles: readonly string[];
  /** Authorizations for allowed names are valid without a challenge while the account's EAB key holds. */
  readonly preAuthorized: boolean;
  /** With preAuthorized: wildcards too. */
  readonly preAuthorizedWildcards: boolean;
}
