-- certmint ledger on PostgreSQL, version 14: certificate lineage and renewal-overdue detection.
-- (Port of migrations/0014_lineage.sql.)

ALTER TABLE certificates ADD COLUMN identifier_set TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN replaces TEXT;
ALTER TABLE certificates ADD COLUMN replaced_by TEXT;
ALTER TABLE certificates ADD COLUMN renewal_due_at BIGINT NOT NULL DEFAULT 0;

-- certificate_identifiers has no index by serial: one for this back-fill only (without it, each
-- certificate's identifiers would be a scan of the whole table). COLLATE "C": byte order, as
-- SQLite and JavaScript sort ASCII.
CREATE INDEX certificate_identifiers_by_serial_0014 ON certificate_identifiers (serial);
UPDATE certificates SET identifier_set = COALESCE((
  SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM (
    SELECT DISTINCT i.identifier_type || ':' || i.identifier_value AS k FROM certificate_identifiers i WHERE i.serial = certificates.serial) s), '');
DROP INDEX certificate_identifiers_by_serial_0014;

UPDATE certificates SET renewal_due_at = GREATEST(
  ((not_before * 60 + (not_after - not_before) * 43 + 59999) / 60000) * 1000,
  ((not_before * 60 + (not_after - not_before) * 37) / 60000) * 1000 + 1000);
UPDATE certificates c SET renewal_due_at = LEAST(c.renewal_due_at, (r.marked_at / 1000) * 1000)
  FROM renew_early r WHERE r.serial = c.serial;

CREATE INDEX certificates_lineage ON certificates (account_id, identifier_set, created_at);
CREATE INDEX certificates_by_replaces ON certificates (replaces) WHERE replaces IS NOT NULL;

UPDATE certificates SET replaces = COALESCE(
  (SELECT r.serial FROM replacements r WHERE certificates.order_id IS NOT NULL AND r.order_id = certificates.order_id
     AND r.serial <> certificates.serial),
  (SELECT p.serial FROM certificates p
    WHERE p.account_id = certificates.account_id AND p.identifier_set = certificates.identifier_set
      AND (p.created_at < certificates.created_at OR (p.created_at = certificates.created_at AND p.serial COLLATE "C" < certificates.serial COLLATE "C"))
      AND p.not_after > certificates.created_at
      AND (p.revoked_at IS NULL OR p.revoked_at > certificates.created_at)
    ORDER BY p.created_at DESC, p.serial COLLATE "C" DESC LIMIT 1))
  WHERE account_id IS NOT NULL;
UPDATE certificates SET replaces = (
  SELECT p.serial FROM certificates p
    WHERE p.account_id IS NULL
      AND (p.created_at < certificates.created_at OR (p.created_at = certificates.created_at AND p.serial COLLATE "C" < certificates.serial COLLATE "C"))
      AND p.not_after > certificates.created_at
      AND (p.revoked_at IS NULL OR p.revoked_at > certificates.created_at)
    ORDER BY p.created_at DESC, p.serial COLLATE "C" DESC LIMIT 1)
  WHERE account_id IS NULL;
UPDATE certificates SET replaced_by = (
  SELECT n.serial FROM certificates n WHERE n.replaces = certificates.serial ORDER BY n.created_at, n.serial COLLATE "C" LIMIT 1);

CREATE INDEX certificates_unrenewed ON certificates (not_after, renewal_due_at, profile, status, replaced_by) WHERE status = 'valid' AND replaced_by IS NULL;
