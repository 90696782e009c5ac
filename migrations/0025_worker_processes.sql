-- certmint ledger, version 25 (issue 27): several worker processes on one SQLite file
-- (server.workers > 1) share what instances on PostgreSQL share since version 10.

-- Nonces signed under a secret every worker reads from here (issuing writes nothing); spending one
-- inserts it, and a second spend, at any worker, finds the row (badNonce). Rows past their expiry
-- are purged. The same tables as migrations/postgres/0010; a single process (server.workers 1)
-- keeps its nonces in memory and leaves them empty.
CREATE TABLE nonce_secret (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  secret     BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE used_nonces (
  nonce      BLOB PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_nonces_by_expiry ON used_nonces (expires_at);

-- The worker processes serving this file now, one row per ledger connection (the processing_by
-- of the work it begins), with a heartbeat: another worker recovers work (fails a finalize,
-- validates a challenge again) only when its holder has no row, has not beaten for a while, or is
-- a process that no longer exists on this host. The first worker of a start empties it.
-- SQLite only: instances on PostgreSQL hold their work by lease (version 10).
CREATE TABLE ledger_holders (
  holder       TEXT PRIMARY KEY,
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
