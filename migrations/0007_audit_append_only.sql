-- certmint ledger, version 7: the audit log is append-only and read by time.
-- `certmint audit --since` walks it in time order; one index keeps that a range scan.
CREATE INDEX audit_log_by_time ON audit_log (at, id);
-- No code path updates or deletes an audit entry; these make the ledger itself refuse it, so
-- neither a bug nor a hand-typed statement in the sqlite3 shell rewrites history silently.
-- (Dropping the triggers is possible for whoever owns the file: this guards against mistakes,
-- not against the file's owner. The backup archive keeps an independent copy.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted');
END;
