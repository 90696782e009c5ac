-- certmint ledger, version 14: certificate lineage and renewal-overdue detection (issue 22).

-- The sorted, de-duplicated identifiers of a certificate, "type:value" (value in lower case)
-- joined by ",": what ledger/lineage.ts identifierSetKey computes for new certificates.
ALTER TABLE certificates ADD COLUMN identifier_set TEXT NOT NULL DEFAULT '';
-- The serial of the certificate this one replaced: its order's ARI "replaces" when sent, otherwise
-- the newest certificate of the same account and identifier set still valid (unexpired,
-- unrevoked) when this one was issued; for the server's own TLS certificate (no account), the
-- newest still-valid server certificate. NULL: it replaced nothing.
ALTER TABLE certificates ADD COLUMN replaces TEXT;
-- The first certificate that replaced this one; set: this one is superseded, never at risk.
ALTER TABLE certificates ADD COLUMN replaced_by TEXT;
-- When this certificate is renewal-overdue unless superseded: the end of its ARI suggested window
-- (ra/renewal-info.ts suggestedWindow, in integer milliseconds), moved by certs renew-early.
ALTER TABLE certificates ADD COLUMN renewal_due_at INTEGER NOT NULL DEFAULT 0;

-- certificate_identifiers has no index by serial: one for this back-fill only (without it, each
-- certificate's identifiers would be a scan of the whole table).
CREATE INDEX certificate_identifiers_by_serial_0014 ON certificate_identifiers (serial);
UPDATE certificates SET identifier_set = COALESCE((
  SELECT group_concat(k, ',' ORDER BY k) FROM (
    SELECT DISTINCT i.identifier_type || ':' || i.identifier_value AS k FROM certificate_identifiers i WHERE i.serial = certificates.serial)), '');
DROP INDEX certificate_identifiers_by_serial_0014;

-- end = max(ceil((notBefore + 43L/60) / 1s), floor((notBefore + 37L/60) / 1s) + 1) seconds.
UPDATE certificates SET renewal_due_at = MAX(
  ((not_before * 60 + (not_after - not_before) * 43 + 59999) / 60000) * 1000,
  ((not_before * 60 + (not_after - not_before) * 37) / 60000) * 1000 + 1000);
UPDATE certificates SET renewal_due_at = MIN(renewal_due_at, (SELECT (r.marked_at / 1000) * 1000 FROM renew_early r WHERE r.serial = certificates.serial))
  WHERE serial IN (SELECT serial FROM renew_early);

-- Finding the predecessor of a new certificate: one index probe.
CREATE INDEX certificates_lineage ON certificates (account_id, identifier_set, created_at);
CREATE INDEX certificates_by_replaces ON certificates (replaces) WHERE replaces IS NOT NULL;

-- Back-fill: the same rule, as of each certificate's issuance; an account's certificates by
-- account and identifier set, the server's own among themselves.
UPDATE certificates SET replaces = COALESCE(
  (SELECT r.serial FROM replacements r WHERE certificates.order_id IS NOT NULL AND r.order_id = certificates.order_id
     AND r.serial <> certificates.serial),
  (SELECT p.serial FROM certificates p
    WHERE p.account_id = certificates.account_id AND p.identifier_set = certificates.identifier_set
      AND (p.created_at < certificates.created_at OR (p.created_at = certificates.created_at AND p.serial < certificates.serial))
      AND p.not_after > certificates.created_at
      AND (p.revoked_at IS NULL OR p.revoked_at > certificates.created_at)
    ORDER BY p.created_at DESC, p.serial DESC LIMIT 1))
  WHERE account_id IS NOT NULL;
UPDATE certificates SET replaces = (
  SELECT p.serial FROM certificates p
    WHERE p.account_id IS NULL
      AND (p.created_at < certificates.created_at OR (p.created_at = certificates.created_at AND p.serial < certificates.serial))
      AND p.not_after > certificates.created_at
      AND (p.revoked_at IS NULL OR p.revoked_at > certificates.created_at)
    ORDER BY p.created_at DESC, p.serial DESC LIMIT 1)
  WHERE account_id IS NULL;
UPDATE certificates SET replaced_by = (
  SELECT n.serial FROM certificates n WHERE n.replaces = certificates.serial ORDER BY n.created_at, n.serial LIMIT 1);

-- The certificates that can be at risk (valid, not superseded), soonest expiry first, with their
-- due time and profile: --overdue, --unrenewed-expiring-within and their metrics are range scans
-- of this index. It leads with not_after, not renewal_due_at, so certificates nobody renewed that
-- expired long ago (a retired host's last one) fall out of the scanned range instead of
-- accumulating in it. status and replaced_by (the same in every entry) let SQLite read the
-- metrics' counts from the index alone.
CREATE INDEX certificates_unrenewed ON certificates (not_after, renewal_due_at, profile, status, replaced_by) WHERE status = 'valid' AND replaced_by IS NULL;
