-- certmint ledger, version 3: external account binding keys (RFC 8555 §7.3.4), and an audit log
-- that records more than revocations.

-- Keys handed out by operators. The HMAC key is sealed (AES-256-GCM) with a key kept outside the
-- ledger (dataDir/ca/secrets.key), so a copy of the ledger alone cannot be used to bind accounts.
CREATE TABLE eab_keys (
  kid             TEXT PRIMARY KEY,
  label           TEXT NOT NULL,
  policy          TEXT,                          -- name of a policy in the config; NULL: the default
  hmac_sealed     BLOB NOT NULL,                 -- nonce || ciphertext || tag
  reusable        INTEGER NOT NULL DEFAULT 0 CHECK (reusable IN (0, 1)),
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER,                       -- NULL: never
  revoked_at      INTEGER,
  bound_account_id TEXT REFERENCES accounts(id), -- single-use keys: the account that used it
  bindings        INTEGER NOT NULL DEFAULT 0
);

-- The binding an account was created with, and the policy it got from that key (fixed at creation).
ALTER TABLE accounts ADD COLUMN eab_kid TEXT REFERENCES eab_keys(kid);
ALTER TABLE accounts ADD COLUMN policy TEXT;

-- The audit log grows beyond revocations: the action is free text, named by the code that writes it.
CREATE TABLE audit_log_v3 (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  at              INTEGER NOT NULL,
  actor           TEXT NOT NULL,                 -- "account:<id>", "certificate-key", "operator:<user>"
  action          TEXT NOT NULL CHECK (length(action) > 0),
  subject         TEXT NOT NULL,                 -- a certificate serial, "account:<id>", "eab:<kid>"
  detail          TEXT NOT NULL DEFAULT '{}'     -- JSON
);
INSERT INTO audit_log_v3 (id, at, actor, action, subject, detail) SELECT id, at, actor, action, subject, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v3 RENAME TO audit_log;
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);

-- Rate limits count an account's pending authorizations.
CREATE INDEX authorizations_pending ON authorizations (account_id, status, expires);
