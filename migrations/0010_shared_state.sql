-- certmint ledger, version 10: what several instances on one ledger must share, kept in the ledger
-- by both backends so that no code outside ledger/ depends on which one runs.

-- limits.newAccountsPerIpPerHour: one row per account created, per client address; rows older than
-- the window are deleted by the next account created.
CREATE TABLE rate_limit_events (
  scope   TEXT NOT NULL,     -- 'new-account'
  subject TEXT NOT NULL,     -- the client address
  at      INTEGER NOT NULL
);
CREATE INDEX rate_limit_events_by_subject ON rate_limit_events (scope, subject, at);
CREATE INDEX rate_limit_events_by_time ON rate_limit_events (at);

-- The CA this ledger belongs to: the SHA-256 of its first root certificate, recorded by the first
-- start. An instance whose CA files hold another root refuses to start; one with no CA files does
-- not create a new CA for a ledger that already has one.
CREATE TABLE ca_identity (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  root_sha256 TEXT NOT NULL,
  recorded_at INTEGER NOT NULL
);

-- One builder at a time per CRL: claiming a CRL number takes the lease, storing the CRL gives it
-- back; a lease that runs out unreturned (the builder died) marks the CRL stale again.
ALTER TABLE crl_state ADD COLUMN lease_holder TEXT;
ALTER TABLE crl_state ADD COLUMN lease_until INTEGER;

-- Which ledger connection (one per certmint process) began finalize or validation, and when:
-- another process takes the work over as interrupted only when its owner is gone (SQLite: any
-- other owner, one server process serves a file) or has held it longer than any live process
-- would (PostgreSQL), so one instance never fails another's work in flight.
ALTER TABLE orders ADD COLUMN processing_by TEXT;
ALTER TABLE orders ADD COLUMN processing_since INTEGER;
ALTER TABLE challenges ADD COLUMN processing_by TEXT;
ALTER TABLE challenges ADD COLUMN processing_since INTEGER;
