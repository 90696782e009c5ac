-- certmint ledger, version 1: accounts, orders, authorizations, challenges, certificates.
-- Times are integer milliseconds since the epoch (UTC). JSON columns hold arrays/objects as text.

CREATE TABLE accounts (
  id              TEXT PRIMARY KEY,
  key_thumbprint  TEXT NOT NULL UNIQUE,          -- RFC 7638 SHA-256 thumbprint of the account key
  jwk             TEXT NOT NULL,                 -- public JWK as JSON
  status          TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
  contact         TEXT NOT NULL DEFAULT '[]',    -- JSON array of URLs
  tos_agreed      INTEGER NOT NULL DEFAULT 0 CHECK (tos_agreed IN (0, 1)),
  created_at      INTEGER NOT NULL
);

CREATE TABLE orders (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id),
  status          TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers     TEXT NOT NULL,                 -- JSON array of {type, value}, as the client sent them
  not_before      INTEGER,
  not_after       INTEGER,
  expires         INTEGER NOT NULL,
  error           TEXT,                          -- JSON problem document
  certificate_serial TEXT,
  created_at      INTEGER NOT NULL
);
CREATE INDEX orders_by_account ON orders (account_id, created_at);

CREATE TABLE authorizations (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id),
  identifier_type TEXT NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
  identifier_value TEXT NOT NULL,
  wildcard        INTEGER NOT NULL DEFAULT 0 CHECK (wildcard IN (0, 1)),
  status          TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
  expires         INTEGER NOT NULL,
  created_at      INTEGER NOT NULL
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
  type            TEXT NOT NULL CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01')),
  token           TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at    INTEGER,
  error           TEXT
);
CREATE INDEX challenges_by_authz ON challenges (authorization_id);

CREATE TABLE certificates (
  serial          TEXT PRIMARY KEY,              -- lower-case hex of the positive serial number
  account_id      TEXT REFERENCES accounts(id),  -- NULL for certificates the CA issued to itself (server TLS)
  order_id        TEXT REFERENCES orders(id),
  der             BLOB NOT NULL,
  chain_pem       TEXT NOT NULL,                 -- intermediate(s) that followed the leaf when it was issued
  identifiers     TEXT NOT NULL,                 -- JSON array of {type, value}
  common_name     TEXT,
  key_hash        TEXT NOT NULL,                 -- SHA-256 of the subject SPKI, hex (blocked keys, lookups)
  not_before      INTEGER NOT NULL,
  not_after       INTEGER NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
  revoked_at      INTEGER,
  revocation_reason INTEGER,
  created_at      INTEGER NOT NULL,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX certificates_by_account ON certificates (account_id, created_at);
CREATE INDEX certificates_by_expiry ON certificates (not_after);
CREATE INDEX certificates_by_key ON certificates (key_hash);

-- One row per identifier so the inventory can answer "every certificate for this name".
CREATE TABLE certificate_identifiers (
  identifier_type TEXT NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
  identifier_value TEXT NOT NULL,
  serial          TEXT NOT NULL REFERENCES certificates(serial),
  PRIMARY KEY (identifier_type, identifier_value, serial)
);
