-- certmint ledger, version 2: revocation audit trail, blocked keys, CRL state.

-- Who did what to which certificate, when and why. Append-only.
CREATE TABLE audit_log (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  at              INTEGER NOT NULL,
  actor           TEXT NOT NULL,                 -- "account:<id>", "certificate-key", "cli"
  action          TEXT NOT NULL CHECK (action IN ('revoke')),
  subject         TEXT NOT NULL,                 -- the certificate serial
  detail          TEXT NOT NULL DEFAULT '{}'     -- JSON: reason, …
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);

-- Public keys reported compromised (keyCompromise by the certificate's own key): never certified again.
CREATE TABLE blocked_keys (
  key_hash        TEXT PRIMARY KEY,              -- SHA-256 of the SPKI, hex, as certificates.key_hash
  blocked_at      INTEGER NOT NULL,
  source_serial   TEXT NOT NULL
);

-- One row per issuing CA: the last CRL number used and whether a revocation happened since.
CREATE TABLE crl_state (
  issuer          TEXT PRIMARY KEY,              -- "intermediate" or "root"
  crl_number      INTEGER NOT NULL DEFAULT 0,
  dirty           INTEGER NOT NULL DEFAULT 1 CHECK (dirty IN (0, 1)),
  this_update     INTEGER,
  next_update     INTEGER,
  der             BLOB                           -- the last CRL signed, so every process serves the same one
);
INSERT INTO crl_state (issuer) VALUES ('intermediate'), ('root');

-- The CRL reads revoked, unexpired certificates: a partial index keeps that cheap at any ledger size.
CREATE INDEX certificates_revoked ON certificates (not_after) WHERE status = 'revoked';
-- Inventory by revocation time.
CREATE INDEX certificates_by_status ON certificates (status, not_after);

-- Inventory by name suffix: "www.example.internal" is also kept as "internal.example.www", so
-- "*.example.internal" is a range scan on the prefix "internal.example." at any ledger size.
ALTER TABLE certificate_identifiers ADD COLUMN reversed_value TEXT;
UPDATE certificate_identifiers SET reversed_value = certmint_reverse_labels(identifier_value);
CREATE INDEX certificate_identifiers_by_suffix ON certificate_identifiers (reversed_value);
