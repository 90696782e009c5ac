-- certmint ledger on PostgreSQL, version 7: the audit log is append-only and read by time.
-- (Port of migrations/0007_audit_append_only.sql.)
-- `certmint audit --since` walks it in time order; one index keeps that a range scan.
CREATE INDEX audit_log_by_time ON audit_log (at, id);
-- No code path updates or deletes an audit entry; the trigger makes the database itself refuse
-- it, so neither a bug nor a hand-typed statement in psql rewrites history silently. (The table's
-- owner can drop the trigger: this guards against mistakes, not against the owner. Operators who
-- want more run certmint as a role that holds only INSERT and SELECT on audit_log.)
-- TRUNCATE is refused too: PostgreSQL has it, SQLite does not, and it would empty the table
-- without firing a row trigger.
--
-- Compatibility: PL/pgSQL triggers need PostgreSQL or YugabyteDB; CockroachDB runs them from
-- v24.3 on (older CockroachDB refuses this migration).
CREATE FUNCTION certmint_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'audit_log is append-only: entries cannot be changed' USING ERRCODE = 'restrict_violation';
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: entries cannot be deleted' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION certmint_audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION certmint_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION certmint_audit_log_append_only();
