-- certmint ledger on PostgreSQL, version 1: accounts, orders, authorizations, challenges, certificates.
--
-- One file per SQLite migration, same number, same name: version N here is version N of
-- migrations/N_*.sql, so both backends report the same schema version and `ledger copy` can
-- refuse a pair whose versions differ. A new SQLite migration gets its postgres twin in the same
-- commit (src/ledger/postgres-migrate.test.ts compares the tables and columns of both).
-- Replaying nine small steps instead of one "final schema" file keeps each file a reviewable
-- translation of its SQLite original, and an existing PostgreSQL ledger upgrades exactly like a
-- SQLite one.
--
-- Translation rules, kept in every file:
--   * times stay integer milliseconds since the epoch (BIGINT), as in SQLite, so rows copy 1:1;
--   * SQLite's 0/1 flags become BOOLEAN (the code already reads them as booleans);
--   * BLOB becomes BYTEA; JSON stays TEXT (the code parses it; no JSONB semantics wanted);
--   * constraints and indexes keep their SQLite names, CHECKs are named <table>_<column>_check.
-- Plain SQL that CockroachDB and YugabyteDB also accept, except where a comment says otherwise.

CREATE TABLE accounts (
  id              TEXT PRIMARY KEY,
  key_thumbprint  TEXT NOT NULL UNIQUE,          -- RFC 7638 SHA-256 thumbprint of the account key
  jwk             TEXT NOT NULL,                 -- public JWK as JSON
  status          TEXT NOT NULL CONSTRAINT accounts_status_check CHECK (status IN ('valid', 'deactivated', 'revoked')),
  contact         TEXT NOT NULL DEFAULT '[]',    -- JSON array of URLs
  tos_agreed      BOOLEAN NOT NULL DEFAULT FALSE,
  created_at      BIGINT NOT NULL
);

CREATE TABLE orders (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id),
  status          TEXT NOT NULL CONSTRAINT orders_status_check CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers     TEXT NOT NULL,                 -- JSON array of {type, value}, as the client sent them
  not_before      BIGINT,
  not_after       BIGINT,
  expires         BIGINT NOT NULL,
  error           TEXT,                          -- JSON problem document
  certificate_serial TEXT,
  created_at      BIGINT NOT NULL
);
CREATE INDEX orders_by_account ON orders (account_id, created_at);

CREATE TABLE authorizations (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id),
  identifier_type TEXT NOT NULL CONSTRAINT authorizations_identifier_type_check CHECK (identifier_type IN ('dns', 'ip')),
  identifier_value TEXT NOT NULL,
  wildcard        BOOLEAN NOT NULL DEFAULT FALSE,
  status          TEXT NOT NULL CONSTRAINT authorizations_status_check
                    CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
  expires         BIGINT NOT NULL,
  created_at      BIGINT NOT NULL
);
-- Reuse of an account's pending or valid authorizations for the same identifier.
CREATE INDEX authorizations_for_reuse ON authorizations (account_id, identifier_type, identifier_value, status, expires);

CREATE TABLE order_authorizations (
  order_id        TEXT NOT NULL REFERENCES orders(id),
  authorization_id TEXT NOT NULL REFERENCES authorizations(id),
  position        INTEGER NOT NULL,
  PRIMARY KEY (order_id, authorization_id)
);
CREATE INDEX order_authorizations_by_authz ON order_authorizations (authorization_id);

CREATE TABLE challenges (
  id              TEXT PRIMARY KEY,
  authorization_id TEXT NOT NULL REFERENCES authorizations(id),
  type            TEXT NOT NULL CONSTRAINT challenges_type_check CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01')),
  token           TEXT NOT NULL,
  status          TEXT NOT NULL CONSTRAINT challenges_status_check CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at    BIGINT,
  error           TEXT
);
CREATE INDEX challenges_by_authz ON challenges (authorization_id);

CREATE TABLE certificates (
  serial          TEXT PRIMARY KEY,              -- lower-case hex of the positive serial number
  account_id      TEXT REFERENCES accounts(id),  -- NULL for certificates the CA issued to itself (server TLS)
  order_id        TEXT REFERENCES orders(id),
  der             BYTEA NOT NULL,
  chain_pem       TEXT NOT NULL,                 -- intermediate(s) that followed the leaf when it was issued
  identifiers     TEXT NOT NULL,                 -- JSON array of {type, value}
  common_name     TEXT,
  key_hash        TEXT NOT NULL,                 -- SHA-256 of the subject SPKI, hex (blocked keys, lookups)
  not_before      BIGINT NOT NULL,
  not_after       BIGINT NOT NULL,
  status          TEXT NOT NULL CONSTRAINT certificates_status_check CHECK (status IN ('valid', 'revoked')),
  revoked_at      BIGINT,
  revocation_reason INTEGER,
  created_at      BIGINT NOT NULL,
  CONSTRAINT certificates_revoked_at_check CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX certificates_by_account ON certificates (account_id, created_at);
CREATE INDEX certificates_by_expiry ON certificates (not_after);
CREATE INDEX certificates_by_key ON certificates (key_hash);

-- One row per identifier so the inventory can answer "every certificate for this name".
CREATE TABLE certificate_identifiers (
  identifier_type TEXT NOT NULL CONSTRAINT certificate_identifiers_identifier_type_check CHECK (identifier_type IN ('dns', 'ip')),
  identifier_value TEXT NOT NULL,
  serial          TEXT NOT NULL REFERENCES certificates(serial),
  PRIMARY KEY (identifier_type, identifier_value, serial)
);
