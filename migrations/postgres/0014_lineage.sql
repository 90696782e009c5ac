-- certmint ledger on PostgreSQL, version 14: certificate lineage and renewal-overdue detection.
-- (Port of migrations/0014_lineage.sql.)

ALTER TABLE certificates ADD COLUMN identifier_set TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN replaces TEXT;
ALTER TABLE certificates ADD COLUMN replaced_by TEXT;
ALTER TABLE certificates ADD COLUMN renewal_due_at BIGINT NOT NULL DEFAULT 0;

-- Every row is rewritten once here, and then only the rows that get a link: a PostgreSQL UPDATE
-- writes a new version of each row it touches, with an entry in every index of the table.

-- certificate_identifiers has no index by serial: one for this back-fill only (without it, each
-- certificate's identifiers would be a scan of the whole table). COLLATE "C": byte order, as
-- SQLite and JavaScript sort ASCII.
CREATE INDEX certificate_identifiers_by_serial_0014 ON certificate_identifiers (serial);
UPDATE certificates SET
  identifier_set = COALESCE((
    SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM (
      SELECT DISTINCT i.identifier_type || ':' || i.identifier_value AS k FROM certificate_identifiers i WHERE i.serial = certificates.serial) s), ''),
  renewal_due_at = GREATEST(
    ((not_before * 60 + (not_after - not_before) * 43 + 59999) / 60000) * 1000,
    ((not_before * 60 + (not_after - not_before) * 37) / 60000) * 1000 + 1000);
DROP INDEX certificate_identifiers_by_serial_0014;
UPDATE certificates c SET renewal_due_at = LEAST(c.renewal_due_at, (r.marked_at / 1000) * 1000)
  FROM renew_early r WHERE r.serial = c.serial;
-- Statistics of the filled-in column: without them the planner takes every identifier_set for ''
-- and probes the back-fill below by account alone, a scan of the account's certificates per row.
ANALYZE certificates;

CREATE INDEX certificates_lineage ON certificates (account_id, identifier_set, created_at);
CREATE INDEX certificates_by_replaces ON certificates (replaces) WHERE replaces IS NOT NULL;

UPDATE certificates c SET replaces = x.predecessor FROM (
  SELECT s.serial, COALESCE(
    (SELECT r.serial FROM replacements r WHERE s.order_id IS NOT NULL AND r.order_id = s.order_id AND r.serial <> s.serial),
    (SELECT p.serial FROM certificates p
      WHERE p.account_id = s.account_id AND p.identifier_set = s.identifier_set
        AND (p.created_at < s.created_at OR (p.created_at = s.created_at AND p.serial COLLATE "C" < s.serial COLLATE "C"))
        AND p.not_after > s.created_at
        AND (p.revoked_at IS NULL OR p.revoked_at > s.created_at)
      ORDER BY p.created_at DESC, p.serial COLLATE "C" DESC LIMIT 1)) AS predecessor
    FROM certificates s WHERE s.account_id IS NOT NULL
  UNION ALL
  SELECT s.serial, (SELECT p.serial FROM certificates p
      WHERE p.account_id IS NULL
        AND (p.created_at < s.created_at OR (p.created_at = s.created_at AND p.serial COLLATE "C" < s.serial COLLATE "C"))
        AND p.not_after > s.created_at
        AND (p.revoked_at IS NULL OR p.revoked_at > s.created_at)
      ORDER BY p.created_at DESC, p.serial COLLATE "C" DESC LIMIT 1)
    FROM certificates s WHERE s.account_id IS NULL
) x WHERE x.serial = c.serial AND x.predecessor IS NOT NULL;
-- The first certificate that replaced each one.
UPDATE certificates c SET replaced_by = x.serial FROM (
  SELECT DISTINCT ON (replaces) replaces, serial FROM certificates WHERE replaces IS NOT NULL
   ORDER BY replaces, created_at, serial COLLATE "C"
) x WHERE c.serial = x.replaces;

CREATE INDEX certificates_unrenewed ON certificates (not_after, renewal_due_at, profile, status, replaced_by) WHERE status = 'valid' AND replaced_by IS NULL;
