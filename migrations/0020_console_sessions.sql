-- certmint ledger, version 20 (issue 25): the web console's sessions, in the ledger so that every
-- instance on one ledger knows them (a console behind a load balancer needs no sticky sessions).
-- The cookie's value is never stored, only its SHA-256; the session ends with its admin token
-- (revoked or expired: checked through the join on every request), after an idle time and after
-- a maximum age (both enforced by the server; expired rows are deleted as new sessions start).
CREATE TABLE console_sessions (
  id_hash       BLOB PRIMARY KEY,
  token_id      TEXT NOT NULL REFERENCES admin_tokens (id),
  csrf          TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
CREATE INDEX console_sessions_by_created ON console_sessions (created_at);
