import Type, { type Static } from 'typebox';

// The same language as parseDuration, and linear like it (see there).
const Duration = Type.Union([Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?(\\s*(ms|s|m|h|d))?\\s*$' }), Type.Number({ minimum: 0 })]);

/** The config file schema (YAML). Every leaf is also settable by an environment variable, see env.ts. */
export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        /** host:port to bind; "[::]:8443" listens on every address, IPv4 included. */
        listen: Type.String({ minLength: 1 }),
        /** The URL clients use; empty derives https://localhost:<port>. Behind a TLS-terminating proxy, the proxy's URL. */
        baseUrl: Type.String(),
        tls: Type.Object(
          {
            enabled: Type.Boolean(),
            hostnames: Type.Array(Type.String({ minLength: 1 })),
            lifetime: Duration,
          },
          { additionalProperties: false },
        ),
        bodyLimit: Type.Integer({ minimum: 1024 }),
        /** Bounds on slow or idle clients (slowloris): TLS handshake plus request headers, a whole request, an idle keep-alive connection. */
        headersTimeout: Duration,
        requestTimeout: Duration,
        /** A request body's bound, from the end of its headers: a body trickled slower is cut off (408). 0: none. */
        bodyTimeout: Duration,
        keepAliveTimeout: Duration,
        /** Open connections at most; more are refused at once. 0: no limit. */
        maxConnections: Type.Integer({ minimum: 0 }),
        /** Open connections per client address at most (trustedProxies exempt); more are closed at once, before TLS. 0: no limit. */
        maxConnectionsPerAddress: Type.Integer({ minimum: 0 }),
        /** Addresses or CIDR networks of proxies whose X-Forwarded-For is believed; empty: none. */
        trustedProxies: Type.Array(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    dataDir: Type.String({ minLength: 1 }),
    ca: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        keyAlgorithm: Type.Union([
          Type.Literal('ecdsa-p256'),
          Type.Literal('ecdsa-p384'),
          Type.Literal('rsa-2048'),
          Type.Literal('rsa-3072'),
          Type.Literal('rsa-4096'),
        ]),
        rootLifetime: Duration,
        intermediateLifetime: Duration,
        leafLifetime: Duration,
        /** A file holding the passphrase of the encrypted CA keys (a Docker/Kubernetes secret); empty: CERTMINT_CA_KEY_PASSPHRASE or none. */
        keyPassphraseFile: Type.String(),
      },
      { additionalProperties: false },
    ),
    acme: Type.Object(
      {
        termsOfService: Type.String(),
        website: Type.String(),
      },
      { additionalProperties: false },
    ),
    validation: Type.Object(
      {
        http01Port: Type.Integer({ minimum: 1, maximum: 65535 }),
        tlsAlpn01Port: Type.Integer({ minimum: 1, maximum: 65535 }),
        dnsResolvers: Type.Array(Type.String({ minLength: 1 })),
        /** CIDRs http-01 and tls-alpn-01 never connect to (link-local ones never, whatever this says). */
        deniedNetworks: Type.Array(Type.String({ minLength: 1 })),
        timeout: Duration,
        /** How long a challenge POST waits for its validation before answering `processing`. */
        answerWithin: Duration,
        /** Validations running at once in this process; more wait for a slot (answered `processing`). */
        maxConcurrent: Type.Integer({ minimum: 1 }),
        /** Validations one account may have running at once; its others wait for a slot. */
        maxConcurrentPerAccount: Type.Integer({ minimum: 1 }),
        caa: Type.Object(
          {
            enabled: Type.Boolean(),
            /** Issuer domain names CAA records use for this CA; also directory meta.caaIdentities. */
            identities: Type.Array(Type.String({ minLength: 1 })),
            /** Finalize checks CAA again for an authorization validated longer ago than this (Boulder: 7h). */
            recheckAfter: Duration,
          },
          { additionalProperties: false },
        ),
        /** Test setting (like Pebble's): the share 0–1 of validations that fail on purpose. */
        testFailureRate: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    policy: Type.Object(
      {
        maxLifetime: Duration,
        orderLifetime: Duration,
        pendingAuthorizationLifetime: Duration,
        authorizationLifetime: Duration,
      },
      { additionalProperties: false },
    ),
    crl: Type.Object(
      {
        validity: Duration,
        refresh: Duration,
        rootValidity: Duration,
        checkInterval: Duration,
        /** Least time between two leaf CRL builds a revocation asks for; revocations in between share the next build. */
        minInterval: Duration,
      },
      { additionalProperties: false },
    ),
    eab: Type.Object({ required: Type.Boolean() }, { additionalProperties: false }),
    /** Rate limits; 0 turns one off. */
    limits: Type.Object(
      {
        newOrdersPerAccountPerHour: Type.Integer({ minimum: 0 }),
        newAccountsPerIpPerHour: Type.Integer({ minimum: 0 }),
        pendingAuthorizationsPerAccount: Type.Integer({ minimum: 0 }),
        /** Authorizations an account may create in a sliding hour, whatever becomes of them. */
        newAuthorizationsPerAccountPerHour: Type.Integer({ minimum: 0 }),
        identifiersPerOrder: Type.Integer({ minimum: 0, maximum: 1000 }),
        revocationsPerAccountPerHour: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    /** Certificate profiles (draft-ietf-acme-profiles), chosen by newOrder "profile"; "default" otherwise. */
    profiles: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
      Type.Object(
        {
          description: Type.String({ minLength: 1 }),
          /** Default and maximum lifetime; absent: ca.leafLifetime. */
          lifetime: Type.Optional(Duration),
          /** Extended key usage: serverAuth, clientAuth or both. */
          usage: Type.Optional(Type.Union([Type.Literal('server'), Type.Literal('client'), Type.Literal('both')])),
          /** keyEncipherment is set for RSA keys only (RFC 5246 key transport). */
          keyUsage: Type.Optional(Type.Array(Type.Union([Type.Literal('digitalSignature'), Type.Literal('keyEncipherment')]), { minItems: 1 })),
          keyTypes: Type.Optional(Type.Array(Type.Union([Type.Literal('rsa'), Type.Literal('ecdsa'), Type.Literal('ed25519')]), { minItems: 1 })),
          /** Copy the CSR's CN (when it is one of the names) into the subject. */
          commonName: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      // Without this a name outside the pattern ("_p", "") is not checked at all.
      { additionalProperties: false },
    ),
    /** Named access policies; `default` applies to accounts without a named one. */
    policies: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
      Type.Object(
        {
          allow: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          deny: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          challenges: Type.Optional(
            Type.Array(Type.Union([Type.Literal('http-01'), Type.Literal('dns-01'), Type.Literal('tls-alpn-01')])),
          ),
          maxLifetime: Type.Optional(Duration),
          /** Profiles its accounts may choose; absent or empty: all. */
          profiles: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
        },
        { additionalProperties: false },
      ),
      { additionalProperties: false },
    ),
    ledger: Type.Object(
      {
        /** Empty: SQLite in dataDir. postgres://user@host:port/db: the shared ledger of several instances. */
        url: Type.String(),
        /** A file holding the database password (a Docker/Kubernetes secret), used when the URL has none. */
        passwordFile: Type.String(),
        /** Connections each instance keeps to PostgreSQL at most. */
        poolSize: Type.Integer({ minimum: 1, maximum: 1000 }),
        /** How long expired orders, authorizations and challenges are kept after they expire; 0: forever. */
        retention: Duration,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type ConfigInput = Static<typeof ConfigSchema>;
