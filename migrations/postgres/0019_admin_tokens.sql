-- certmint ledger, version 19 on PostgreSQL (issue 25): the admin tokens of the admin API (/api/v1/).
-- Only the SHA-256 of a token is stored: it is shown once by `certmint admin token create` and a
-- copy of the ledger cannot be used to call the API. The hash is looked up by its unique index.
CREATE TABLE admin_tokens (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL CHECK (length(name) > 0),
  role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator')),
  token_hash    BYTEA NOT NULL UNIQUE,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT,                       -- NULL: never
  revoked_at    BIGINT,
  last_used_at  BIGINT
);
-- A name names one token that can still be revoked: revoked ones keep theirs for the audit log.
CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens (name) WHERE revoked_at IS NULL;
