import Type, { type Static } from 'typebox';
import { MAX_WORKERS } from './defaults.js';
import { EMAIL_EVENTS, NOTIFICATION_EVENTS } from '../core/notification-events.js';

// Every key carries its description here, in the schema: docs/configuration.md is generated from
// this object (src/config/config-reference.ts), and a key without a description fails that test.

// The same language as parseDuration, and linear like it (see there).
const Duration = (description: string) =>
  Type.Union([Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?(\\s*(ms|s|m|h|d))?\\s*$' }), Type.Number({ minimum: 0 })], { description });
const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });
const Strings = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
const Section = <T extends Parameters<typeof Type.Object>[0]>(description: string, properties: T) =>
  Type.Object(properties, { additionalProperties: false, description });
const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

/** The config file schema (YAML). Every leaf is also settable by an environment variable, see env.ts. */
export const ConfigSchema = Type.Object(
  {
    server: Section('The HTTPS listener that serves ACME, the trust bundle, CRLs, health and metrics.', {
      listen: Type.String({ minLength: 1, description: 'host:port to bind; "[::]:8443" listens on every address, IPv4 included.' }),
      baseUrl: Type.String({
        description:
          'The URL clients use, and that JWS `url` values are checked against; empty: `https://localhost:<port>`. Behind a TLS-terminating proxy, the URL the proxy presents.',
      }),
      tls: Section('certmint\'s own HTTPS certificate, issued from its intermediate and renewed automatically.', {
        enabled: Type.Boolean({ description: 'Serve HTTPS; false behind a TLS-terminating proxy (then set server.baseUrl to the proxy\'s URL).' }),
        hostnames: Strings('Names and addresses in certmint\'s own HTTPS certificate.'),
        lifetime: Duration('Lifetime of certmint\'s own HTTPS certificate.'),
      }),
      bodyLimit: Type.Integer({ minimum: 1024, description: 'Largest request body in bytes; a larger one is answered 413 with a problem document.' }),
      headersTimeout: Duration('TLS handshake plus request headers must arrive within this; slower clients are closed (slowloris). At most server.requestTimeout.'),
      requestTimeout: Duration('A whole request\'s arrival; a challenge POST\'s wait for its validation comes after it and is not counted.'),
      bodyTimeout: Duration('A request body must arrive within this of the end of its headers, else 408. 0: no bound but server.requestTimeout.'),
      keepAliveTimeout: Duration('An idle keep-alive connection between requests is closed after this.'),
      maxConnections: Type.Integer({ minimum: 0, description: 'Open connections at most; more are refused at once. 0: no limit.' }),
      maxConnectionsPerAddress: Type.Integer({
        minimum: 0,
        description: 'Open connections one client address may hold; more are closed at once, before TLS. server.trustedProxies are exempt. 0: no limit.',
      }),
      trustedProxies: Strings(
        'Addresses or CIDR networks of proxies whose X-Forwarded-For is believed (for limits.newAccountsPerIpPerHour); from any other peer it is ignored. Empty: none.',
      ),
      http2: Type.Union([Type.Literal('auto'), Type.Boolean()], {
        description:
          'Offer HTTP/2 (ALPN h2) beside HTTP/1.1 on the HTTPS listener: clients that offer it (Go programs on Go\'s default transport, such as x/crypto/acme given no client of its own; curl; browsers on the console) multiplex their requests on a few connections instead of a TLS handshake every few requests. HTTP/1.1 clients (certbot, cert-manager, lego) are served as before. `auto`: on when server.workers runs more than one process, where it saves far more than Node\'s HTTP/2 costs per request. Needs server.tls.enabled (no h2c). docs/scale-out.md#http2.',
      }),
      workers: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: MAX_WORKERS })], {
        description: `Worker processes serving the listeners and the one ledger: 1 (one process), a number up to ${MAX_WORKERS}, or \`auto\` (the cores this process may run on). docs/scale-out.md#every-core-of-one-machine.`,
      }),
    }),
    dataDir: Type.String({ minLength: 1, description: 'Where the CA (ca/), the SQLite ledger, CRL files (crl/) and the server\'s TLS files (tls/) live.' }),
    ca: Section('The CA that certmint creates on first start (or `certmint ca init`).', {
      name: Type.String({ minLength: 1, description: 'Name in the CA subjects (`<name> Root CA`, ...).' }),
      keyAlgorithm: Type.Union(
        [Type.Literal('ecdsa-p256'), Type.Literal('ecdsa-p384'), Type.Literal('rsa-2048'), Type.Literal('rsa-3072'), Type.Literal('rsa-4096')],
        { description: 'Key algorithm of the root and intermediates certmint creates.' },
      ),
      rootLifetime: Duration('Lifetime of a root certmint creates.'),
      intermediateLifetime: Duration('Lifetime of an intermediate certmint creates.'),
      leafLifetime: Duration('Default lifetime of a leaf certificate (the `default` profile\'s).'),
      keyPassphraseFile: Type.String({
        description:
          'A file holding the passphrase of the encrypted CA keys (a Docker or Kubernetes secret; mode 0600/0400, one trailing newline dropped). Empty: CERTMINT_CA_KEY_PASSPHRASE, or none and keys are plain.',
      }),
      keyProvider: Type.Union([Type.Literal('file'), Type.Literal('pkcs11')], {
        description: 'Where the CA keys live: `file` (PEM files in the data directory) or `pkcs11` (a hardware token or HSM, ca.pkcs11; docs/hsm.md).',
      }),
      offlineRoot: Type.Boolean({
        description:
          'The root key is kept off this machine (moved away after `certmint ca init`): serve starts with the root certificates alone and never signs the root CRL; `certmint crl generate --root`, `ca rotate-intermediate` and `ca rotate-root` need it brought back (docs/ca-operations.md#an-offline-root-key).',
      }),
      nameConstraints: Section(
        'RFC 5280 name constraints written into the intermediates certmint creates (`ca init`, first start, `ca rotate-intermediate`, `ca rotate-root`), and checked at newOrder (docs/ca-operations.md#name-constraints).',
        {
          permitted: Strings(
            'Names the intermediate may sign: DNS names (`example.internal`: that name and every name under it), CIDR ranges (`10.0.0.0/8`), URI hosts (`uri:cluster.local`). Empty: every name of a kind not listed.',
          ),
          excluded: Strings('Names the intermediate may never sign, in the same forms; an excluded name wins over a permitted one.'),
        },
      ),
      pkcs11: Section('The PKCS#11 token holding the CA keys when ca.keyProvider is pkcs11 (docs/hsm.md).', {
        module: Type.String({ description: 'Path of the vendor\'s PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. Required with keyProvider pkcs11.' }),
        token: Type.String({ description: 'The token\'s label, or `serial:<n>` for its serial number; never a slot number. Required with keyProvider pkcs11.' }),
        pinFile: Type.String({
          description: 'A file holding the token\'s user PIN (a Docker or Kubernetes secret; mode 0600/0400, one trailing newline dropped). Required with keyProvider pkcs11; the PIN is never read from the config.',
        }),
        intermediateKey: Type.String({
          description: 'RFC 7512 URI of the intermediate key (`pkcs11:object=<label>` and/or `id=<%-encoded bytes>`); created on the token at first start when it finds none. Required with keyProvider pkcs11.',
        }),
        rootKey: Type.String({ description: 'RFC 7512 URI of the root key on the token. Empty: the root key stays a file (root.key.pem, which ca.offlineRoot lets you keep off the machine).' }),
      }),
    }),
    acme: Section('What the ACME directory\'s meta says.', {
      termsOfService: Type.String({ description: 'URL of the terms of service; when set, new accounts must agree to them. Empty: none.' }),
      website: Type.String({ description: 'URL shown as the directory\'s meta.website. Empty: none.' }),
    }),
    validation: Section('How challenges are validated (docs/challenges.md).', {
      http01Port: Port('Port http-01 validation connects to.'),
      tlsAlpn01Port: Port('Port tls-alpn-01 validation connects to.'),
      dnsResolvers: Strings(
        'DNS servers (host:port) for every lookup of a validation (A/AAAA, TXT, CAA). Empty: the system\'s (/etc/hosts, then /etc/resolv.conf).',
      ),
      deniedNetworks: Strings('CIDRs http-01 and tls-alpn-01 never connect to, on top of link-local, which is always refused.'),
      timeout: Duration('Each lookup, connection and handshake of one validation shares this bound.'),
      answerWithin: Duration('How long a challenge POST waits for its validation before answering `processing` (with Retry-After).'),
      maxConcurrent: Type.Integer({ minimum: 1, description: 'Validations running at once in this process; more wait for a slot (answered `processing`).' }),
      maxConcurrentPerAccount: Type.Integer({ minimum: 1, description: 'Validations one account may have running at once; free slots go to waiting accounts in turn.' }),
      caa: Section('CAA checks (RFC 8659, with accounturi and validationmethods of RFC 8657).', {
        enabled: Type.Boolean({ description: 'Check CAA after each successful challenge, and again at finalize for older authorizations.' }),
        identities: Strings('Issuer domain names CAA records use for this CA; also the directory\'s meta.caaIdentities. Required when CAA is enabled.'),
        recheckAfter: Duration('Finalize checks CAA again for an authorization validated longer ago than this (Boulder: 7h).'),
      }),
      dnsPersist: Section('dns-persist-01 (draft-ietf-acme-dns-persist-01): a standing TXT record per name instead of a fresh one per validation (docs/challenges.md#dns-persist-01).', {
        issuerDomainNames: Strings(
          'What this CA calls itself in `_validation-persist` records (1 to 10 DNS names; the first is the one `certmint accounts persist-record` prints); also listed in the directory\'s meta.caaIdentities. Empty: dns-persist-01 is not offered.',
        ),
      }),
      testFailureRate: Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Test setting (like Pebble\'s): the share 0–1 of validations that fail on purpose; logged at start.',
      }),
    }),
    policy: Section('Lifetimes of what certmint issues and keeps.', {
      maxLifetime: Duration('Longest certificate lifetime an order may ask for (notBefore/notAfter, a profile or policy lifetime).'),
      orderLifetime: Duration('How long a new order stays usable.'),
      pendingAuthorizationLifetime: Duration('How long a pending authorization waits for its challenge.'),
      authorizationLifetime: Duration('How long a valid authorization is reused by the same account\'s later orders.'),
    }),
    crl: Section('CRL publishing (docs/revocation-and-crls.md).', {
      validity: Duration('nextUpdate − thisUpdate of each leaf CRL.'),
      refresh: Duration('A new leaf CRL is signed this often; shorter than crl.validity.'),
      rootValidity: Duration('Validity of the root\'s CRL of intermediates, renewed at half.'),
      checkInterval: Duration('How often the server looks for revocations made by other processes (certmint revoke, other instances).'),
      minInterval: Duration(
        'Least time between two leaf CRL builds a revocation asks for; revocations in between share the next build. Shorter than crl.refresh.',
      ),
      partitions: Type.Integer({
        minimum: 1,
        maximum: 256,
        description:
          'CRLs per intermediate generation: N > 1 puts each new certificate in one of N partitions (serial mod N), named by its CRL distribution point <base>/crl/<generation>/<partition>; a revocation rebuilds only its partition\'s CRL (docs/revocation-and-crls.md#partitioned-crls). 1: one CRL per generation.',
      }),
    }),
    eab: Section('External account binding (RFC 8555 §7.3.4, docs/access.md).', {
      required: Type.Boolean({ description: 'New accounts need a binding made with a key from `certmint eab create`; the directory says externalAccountRequired.' }),
    }),
    limits: Section('Rate limits, counted in the ledger (shared by every process and instance); 0 turns one off.', {
      newOrdersPerAccountPerHour: Type.Integer({ minimum: 0, description: 'New orders one account may create in a sliding hour.' }),
      newAccountsPerIpPerHour: Type.Integer({
        minimum: 0,
        description: 'New accounts per client address in a sliding hour (an IPv6 client also counts against its /64); see server.trustedProxies.',
      }),
      pendingAuthorizationsPerAccount: Type.Integer({ minimum: 0, description: 'Pending authorizations one account may hold at once.' }),
      newAuthorizationsPerAccountPerHour: Type.Integer({
        minimum: 0,
        description: 'Authorizations one account may create in a sliding hour, whatever becomes of them.',
      }),
      identifiersPerOrder: Type.Integer({ minimum: 0, maximum: 1000, description: 'Identifiers in one order at most.' }),
      revocationsPerAccountPerHour: Type.Integer({
        minimum: 0,
        description: 'Revocations per account in a sliding hour (one signed with the certificate\'s key counts against its account); `certmint revoke` is never limited.',
      }),
    }),
    profiles: Type.Record(
      Type.String({ pattern: NAME_PATTERN }),
      Type.Object(
        {
          description: Type.String({ minLength: 1, description: 'What the profile is for, shown in the directory\'s meta.profiles.' }),
          lifetime: Type.Optional(Duration('Default and maximum lifetime; absent: ca.leafLifetime, and an order may ask up to policy.maxLifetime.')),
          usage: Type.Optional(
            Type.Union([Type.Literal('server'), Type.Literal('client'), Type.Literal('both')], {
              description: 'Extended key usage: serverAuth, clientAuth or both; absent: both.',
            }),
          ),
          keyUsage: Type.Optional(
            Type.Array(Type.Union([Type.Literal('digitalSignature'), Type.Literal('keyEncipherment')]), {
              minItems: 1,
              description: 'Key usage; keyEncipherment is set for RSA keys only (RFC 5246 key transport). Absent: both.',
            }),
          ),
          keyTypes: Type.Optional(
            Type.Array(Type.Union([Type.Literal('rsa'), Type.Literal('ecdsa'), Type.Literal('ed25519')]), {
              minItems: 1,
              description: 'Subject key types accepted; a CSR with another is refused as badCSR. Absent: all.',
            }),
          ),
          commonName: Type.Optional(Type.Boolean({ description: 'Copy the CSR\'s CN into the subject when it is one of the names (absent: true); false: never set one.' })),
        },
        { additionalProperties: false },
      ),
      // Without this a name outside the pattern ("_p", "") is not checked at all.
      {
        additionalProperties: false,
        description:
          'Certificate profiles (draft-ietf-acme-profiles), chosen by newOrder "profile"; orders that name none get `default`. An entry adds a profile or overrides a built-in one.',
      },
    ),
    policies: Type.Record(
      Type.String({ pattern: NAME_PATTERN }),
      Type.Object(
        {
          allow: Type.Optional(Strings('Identifiers its accounts may order: exact names, `*.suffix` (names under it, any depth), IP addresses, CIDRs. Absent: any.')),
          deny: Type.Optional(Strings('Identifiers refused even when allowed (deny wins); a wildcard covering a denied name is refused too.')),
          challenges: Type.Optional(
            Type.Array(Type.Union([Type.Literal('http-01'), Type.Literal('dns-01'), Type.Literal('tls-alpn-01'), Type.Literal('dns-persist-01')]), {
              description: 'Challenge types offered to its accounts; absent: all.',
            }),
          ),
          maxLifetime: Type.Optional(Duration('Longest certificate lifetime for its accounts; at most policy.maxLifetime.')),
          profiles: Type.Optional(Strings('Profiles its accounts may choose; absent or empty: all.')),
          preAuthorized: Type.Optional(
            Type.Boolean({
              description:
                'true: its accounts\' authorizations for names in `allow` are valid at once, without a challenge, while their EAB key is neither revoked nor expired (docs/access.md#pre-authorized-policies); needs `allow`. Default false.',
            }),
          ),
          preAuthorizedWildcards: Type.Optional(
            Type.Boolean({ description: 'With `preAuthorized`: wildcard identifiers are pre-authorized too; otherwise they need a DNS challenge (dns-01, or dns-persist-01 when offered). Default false.' }),
          ),
        },
        { additionalProperties: false },
      ),
      {
        additionalProperties: false,
        description: 'Named access policies, given to accounts through their EAB key; `default` applies to every other account.',
      },
    ),
    notifications: Section('Webhooks told of events (docs/monitoring.md#notifications): at least once, from an outbox in the ledger, signed with each webhook\'s secret.', {
      webhooks: Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: NAME_PATTERN, description: 'The webhook\'s name: unique, shown by `certmint notifications list`; deliveries are kept by it.' }),
            url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'Where events are POSTed: an http:// or https:// URL. Redirects are not followed.' }),
            events: Type.Array(Type.Union(NOTIFICATION_EVENTS.map((e) => Type.Literal(e))), {
              minItems: 1,
              description: `Events sent to it, of: ${NOTIFICATION_EVENTS.join(', ')}.`,
            }),
            secretFile: Type.String({
              minLength: 1,
              description: 'A file holding the HMAC-SHA256 key of Certmint-Signature (mode 0600/0400, one trailing newline dropped); read at start.',
            }),
            format: Type.Union([Type.Literal('json'), Type.Literal('slack')], {
              description: '`json`: a CloudEvents 1.0 structured-mode object; `slack`: `{"text": …}`, what Slack and Mattermost incoming webhooks accept.',
            }),
          },
          { additionalProperties: false },
        ),
        { description: 'Webhooks, each `{name, url, events, secretFile, format}`. A list of objects: set in the config file only, no environment variable.' },
      ),
      timeout: Duration('One delivery attempt (connect, send, answer) ends after this; a receiver that hangs costs this and one retry.'),
      maxInFlight: Type.Integer({ minimum: 1, maximum: 1000, description: 'Deliveries one instance sends at once at most.' }),
      maxAttempts: Type.Integer({ minimum: 1, maximum: 100, description: 'Attempts of one delivery before it is marked failed (`certmint notifications retry` sends it again).' }),
      backoffBase: Duration('The wait after the first failed attempt; it doubles after each further one.'),
      backoffMax: Duration('The longest wait between two attempts.'),
      expiringWithin: Duration(
        'certificate.expiring-unrenewed is raised (once) for a renewal-overdue certificate this long before it expires; certificate.renewal-overdue when it becomes overdue. Checked every minute.',
      ),
      caExpiringWithin: Duration(
        'ca.expiring is raised (once per CA certificate) when the active intermediate or its root expires within this; the default is the margin of the shipped CertmintCaCertificateExpiring alert. Checked every minute.',
      ),
      email: Section(
        'Email to the `mailto:` contacts of the ACME account a certificate belongs to, through an SMTP relay, from the same outbox as the webhooks (shown as webhook `email` by `certmint notifications list`). Off until `from` and `smtp.host` are set.',
        {
          from: Type.String({ description: 'The From address (`certmint@ca.example`). Empty: no email.' }),
          // Spelt out: a mapped list of literals types as never.
          events: Type.Array(Type.Union([Type.Literal(EMAIL_EVENTS[0]), Type.Literal(EMAIL_EVENTS[1])]), {
            description: `Events mailed to the account's contacts, of: ${EMAIL_EVENTS.join(', ')}.`,
          }),
          smtp: Section('The SMTP relay that takes certmint\'s mail.', {
            host: Type.String({ description: 'The relay\'s name or address. Empty: no email.' }),
            port: Port('The relay\'s submission port (587; 25 for a relay on the same host).'),
            starttls: Type.Union([Type.Literal('required'), Type.Literal('off')], {
              description:
                '`required`: nothing but EHLO and STARTTLS is sent before TLS, and a relay that does not offer it gets nothing; `off`: plain SMTP, for a relay on loopback (127.0.0.0/8, ::1, localhost) only.',
            }),
            usernameFile: Type.String({
              description: 'A file holding the AUTH user name (mode 0600/0400, one trailing newline dropped), read at start. Empty: no AUTH. With smtp.passwordFile.',
            }),
            passwordFile: Type.String({
              description: 'A file holding the AUTH password (mode 0600/0400, one trailing newline dropped), read at start, never logged. With smtp.usernameFile.',
            }),
            caFile: Type.String({ description: 'PEM certificates trusted for the relay\'s TLS certificate. Empty: the system\'s roots.' }),
          }),
        },
      ),
    }),
    publication: Section(
      'Plain-HTTP publication of CRLs and CA certificates (docs/revocation-and-crls.md#publication-over-plain-http): relying parties fetch them without TLS.',
      {
        listen: Type.String({
          description:
            'host:port of a second, plain-HTTP listener serving only /crl…, /intermediate…, /root… and /roots.pem ("[::]:8080" listens on every address). Empty: no such listener.',
        }),
        baseUrl: Type.String({
          description:
            'The http:// URL relying parties reach that listener at (or a proxy in front of it): new certificates name their CRL and issuer under it. Empty: derived from publication.listen (refused for a wildcard address); with neither set, certificates name server.baseUrl.',
        }),
      },
    ),
    admin: Section('The admin API under /api/v1/ (docs/console-and-admin-api.md): JSON for automation, authenticated with tokens from `certmint admin token create`.', {
      enabled: Type.Boolean({ description: 'Serve the admin API. Off: /api/ answers 404 on every listener.' }),
      listen: Type.String({
        description:
          'host:port of a listener of its own for the admin API (HTTPS with the server\'s certificate when server.tls.enabled), so it can stay on an internal network; the ACME listener then answers 404 on /api/. Empty: served on the ACME listener.',
      }),
      clientCertificates: Type.Boolean({
        description:
          'The admin listener (admin.listen, with server.tls.enabled) also asks for a TLS client certificate and accepts one from the admin issuer (`certmint admin cert create`), mapped to its name and role and checked against the ledger on every request; bearer tokens keep working beside it. The ACME listener never asks for one.',
      }),
    }),
    ledger: Section('Where certificates, accounts, orders and the audit log are kept.', {
      url: Type.String({ description: 'Empty: SQLite in dataDir. postgres://user@host:5432/db: the shared PostgreSQL ledger of several instances (docs/scale-out.md).' }),
      passwordFile: Type.String({
        description:
          'A file holding the database password (a Docker or Kubernetes secret; mode 0600/0400, one trailing newline dropped), used when the URL has none; not together with a password in the URL.',
      }),
      poolSize: Type.Integer({ minimum: 1, maximum: 1000, description: 'Connections each instance keeps to PostgreSQL at most.' }),
      retention: Duration(
        'Expired orders, authorizations and challenges are purged this long after they expire (hourly, audited), and notification events this long after they were raised once every webhook has them; never certificates, the orders they came from, accounts or audit entries. 0: never.',
      ),
    }),
  },
  { additionalProperties: false },
);

export type ConfigInput = Static<typeof ConfigSchema>;
