-- certmint ledger on PostgreSQL, version 3: external account binding keys (RFC 8555 §7.3.4), and
-- an audit log that records more than revocations. (Port of migrations/0003_eab.sql.)

-- Keys handed out by operators. The HMAC key is sealed (AES-256-GCM) with a key kept outside the
-- ledger (dataDir/ca/secrets.key), so a copy of the ledger alone cannot be used to bind accounts.
CREATE TABLE eab_keys (
  kid             TEXT PRIMARY KEY,
  label           TEXT NOT NULL,
  policy          TEXT,                          -- name of a policy in the config; NULL: the default
  hmac_sealed     BYTEA NOT NULL,                -- nonce || ciphertext || tag
  reusable        BOOLEAN NOT NULL DEFAULT FALSE,
  created_at      BIGINT NOT NULL,
  expires_at      BIGINT,                        -- NULL: never
  revoked_at      BIGINT,
  bound_account_id TEXT REFERENCES accounts(id), -- single-use keys: the account that used it
  bindings        INTEGER NOT NULL DEFAULT 0
);

-- The binding an account was created with, and the policy it got from that key (fixed at creation).
ALTER TABLE accounts ADD COLUMN eab_kid TEXT REFERENCES eab_keys(kid);
ALTER TABLE accounts ADD COLUMN policy TEXT;

-- The audit log grows beyond revocations: the action is free text, named by the code that writes it.
-- SQLite cannot change a CHECK, so it copies the table; PostgreSQL swaps the constraint in place
-- (same columns, same ids, same index).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (length(action) > 0);

-- Rate limits count an account's pending authorizations.
CREATE INDEX authorizations_pending ON authorizations (account_id, status, expires);
