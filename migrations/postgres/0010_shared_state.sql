-- certmint ledger on PostgreSQL, version 10: what several instances on one ledger must share.
-- (Port of migrations/0010_shared_state.sql, plus the nonce tables only a shared ledger needs.)

-- limits.newAccountsPerIpPerHour: one row per account created, per client address; rows older than
-- the window are deleted by the next account created. Counted and inserted at SERIALIZABLE.
CREATE TABLE rate_limit_events (
  scope   TEXT NOT NULL,     -- 'new-account'
  subject TEXT NOT NULL,     -- the client address
  at      BIGINT NOT NULL
);
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (scope, subject, at);
CREATE INDEX rate_limit_events_by_time ON rate_limit_events (at);

-- The CA this ledger belongs to: the SHA-256 of its first root certificate, recorded by the first
-- start. An instance whose CA files hold another root refuses to start; one with no CA files does
-- not create a new CA for a ledger that already has one.
CREATE TABLE ca_identity (
  id          INTEGER PRIMARY KEY CONSTRAINT ca_identity_id_check CHECK (id = 1),
  root_sha256 TEXT NOT NULL,
  recorded_at BIGINT NOT NULL
);

-- One builder at a time per CRL: claiming a CRL number takes the lease, storing the CRL gives it
-- back; a lease that runs out unreturned (the builder died) marks the CRL stale again.
ALTER TABLE crl_state ADD COLUMN lease_holder TEXT;
ALTER TABLE crl_state ADD COLUMN lease_until BIGINT;

-- Which ledger connection (one per certmint process) began finalize or validation, and when:
-- another process takes the work over as interrupted only when its owner is gone (SQLite: any
-- other owner, one server process serves a file) or has held it longer than any live process
-- would (PostgreSQL), so one instance never fails another's work in flight.
ALTER TABLE orders ADD COLUMN processing_by TEXT;
ALTER TABLE orders ADD COLUMN processing_since BIGINT;
ALTER TABLE challenges ADD COLUMN processing_by TEXT;
ALTER TABLE challenges ADD COLUMN processing_since BIGINT;

-- PostgreSQL only: nonces (RFC 8555 §6.5) shared by every instance. A nonce is signed with this
-- secret (issuing one writes nothing); consuming one inserts it here, and a second insert of the
-- same nonce, on any instance, finds it (badNonce). Rows past their expiry are purged.
CREATE TABLE nonce_secret (
  id         INTEGER PRIMARY KEY CONSTRAINT nonce_secret_id_check CHECK (id = 1),
  secret     BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE used_nonces (
  nonce      BYTEA PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX used_nonces_by_expiry ON used_nonces (expires_at);
