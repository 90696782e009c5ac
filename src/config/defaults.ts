import type { ConfigInput } from './schema.js';

/** server.workers at most: past this, SQLite's single writer is the limit, not the cores. */
export const MAX_WORKERS = 64;

/**
 * Every key's default (config/certmint.example.yaml lists them). Kept apart from schema.ts, whose
 * typebox builders `certmint` does not load at start (config-schema.generated.ts checks instead).
 */
export const DEFAULT_CONFIG: ConfigInput = {
  server: {
    listen: '[::]:8443',
    baseUrl: '',
    tls: { enabled: true, hostnames: ['localhost', '127.0.0.1', '::1'], lifetime: '30d' },
    bodyLimit: 65536,
    headersTimeout: '10s',
    // Headers and body of one request (Node's requestTimeout ends when the body has arrived: the
    // wait of a challenge POST for its validation, validation.answerWithin, is not counted).
    requestTimeout: '60s',
    // A 64 kB body needs milliseconds on a LAN and 10 s at 52 kbit/s; a body trickled a byte at a
    // time held its connection for requestTimeout (60 s) before.
    bodyTimeout: '10s',
    keepAliveTimeout: '30s',
    maxConnections: 10000,
    // One client address (a host, or a NAT'd cluster) cannot take every slot of maxConnections;
    // ACME clients hold one or two each. Proxies in trustedProxies are not counted per address.
    maxConnectionsPerAddress: 100,
    // A client's address is the socket's unless a listed proxy forwarded the request.
    trustedProxies: [],
    // On with several workers: Node's HTTP/2 costs more CPU per request than its HTTP/1.1 and pays
    // only where many handshakes are saved (docs/scale-out.md#http2).
    http2: 'auto',
    // One process, as before server.workers existed; `auto` uses every core (docs/scale-out.md).
    workers: 1,
  },
  dataDir: './data',
  ca: {
    name: 'certmint',
    keyAlgorithm: 'ecdsa-p256',
    rootLifetime: '3650d',
    intermediateLifetime: '1825d',
    leafLifetime: '45d',
    keyPassphraseFile: '',
    keyProvider: 'file',
    offlineRoot: false,
    nameConstraints: { permitted: [], excluded: [] },
    pkcs11: { module: '', token: '', pinFile: '', intermediateKey: '', rootKey: '' },
  },
  acme: { termsOfService: '', website: '' },
  validation: {
    http01Port: 80,
    tlsAlpn01Port: 443,
    dnsResolvers: [],
    deniedNetworks: [],
    timeout: '10s',
    answerWithin: '10s',
    // Each running validation may hold a UDP socket and a TCP connection for validation.timeout.
    // Per account: what a cert-manager account ordering for a cluster needs at once, and few
    // enough that one account's names whose DNS never answers leave the rest to everyone else.
    maxConcurrent: 200,
    maxConcurrentPerAccount: 20,
    caa: { enabled: false, identities: [], recheckAfter: '7h' },
    dnsPersist: { issuerDomainNames: [] },
    testFailureRate: 0,
  },
  policy: {
    maxLifetime: '90d',
    orderLifetime: '7d',
    pendingAuthorizationLifetime: '7d',
    authorizationLifetime: '30d',
  },
  crl: { validity: '24h', refresh: '1h', rootValidity: '30d', checkInterval: '5s', minInterval: '10s', partitions: 1 },
  eab: { required: false },
  // Generous for a private CA: one cert-manager account may order for a whole cluster, and pods
  // behind one node address may each register at boot.
  limits: {
    newOrdersPerAccountPerHour: 1000,
    newAccountsPerIpPerHour: 1000,
    pendingAuthorizationsPerAccount: 5000,
    // Counts what the pending limit cannot: authorizations created then failed or deactivated.
    newAuthorizationsPerAccountPerHour: 5000,
    identifiersPerOrder: 100,
    // Each revocation marks the CRL stale (a rebuild of every entry): ample for a fleet rotating
    // compromised keys, far below what keeps the CRL builder busy.
    revocationsPerAccountPerHour: 1000,
  },
  profiles: {
    default: { description: 'TLS server and client certificate for the names of the order, ca.leafLifetime (45 days)' },
    shortlived: { description: 'Short-lived TLS server certificate, 24 hours: renew daily, revocation rarely needed', lifetime: '24h', usage: 'server' },
    mtls: { description: 'Mutual TLS between services: client and server authentication, 7 days', lifetime: '7d', usage: 'both' },
  },
  policies: {},
  // Ten attempts over about 1.5 hours (5 s doubling, capped at 30 min) ride out a receiver's restart or deploy.
  notifications: {
    webhooks: [],
    timeout: '10s',
    maxInFlight: 16,
    maxAttempts: 10,
    backoffBase: '5s',
    backoffMax: '30m',
    expiringWithin: '3d',
    caExpiringWithin: '30d',
    email: {
      from: '',
      events: ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'],
      smtp: { host: '', port: 587, starttls: 'required', usernameFile: '', passwordFile: '', caFile: '' },
    },
  },
  // No plain-HTTP listener unless asked for: new certificates keep naming server.baseUrl.
  publication: { listen: '', baseUrl: '' },
  // No admin API unless asked for: tokens alone do not open it.
  admin: { enabled: false, listen: '', clientCertificates: false },
  ledger: { url: '', passwordFile: '', poolSize: 10, retention: '30d' },
};
