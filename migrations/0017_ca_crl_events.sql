-- certmint ledger, version 17 (issue 22).
-- ca.expiring is raised once per CA certificate, crl.stale
-- once per stale CRL (subject "crl:<issuer>:<CRL number>": the next CRL that goes stale raises again).
-- The serve process's periodic check writes them with INSERT … ON CONFLICT DO NOTHING on these
-- indexes, as 0016 does: two instances checking at once write one event between them.
CREATE UNIQUE INDEX outbox_events_ca_expiring_once ON outbox_events (subject) WHERE type = 'ca.expiring';
CREATE UNIQUE INDEX outbox_events_crl_stale_once ON outbox_events (subject) WHERE type = 'crl.stale';

-- How far the renewal-risk check has told of each certificate: 0 nothing yet; 1
-- certificate.renewal-overdue raised; 2 certificate.expiring-unrenewed raised too, or the
-- certificate expired before the check could tell (never again). Set in the transaction that
-- writes the event. The check reads the two partial indexes below, which hold only the
-- certificates whose state can still move: its steady cost is what is new, not a read of every
-- certificate already told of (1M stuck certificates were a second per minute). A revoked or
-- superseded certificate leaves both.
ALTER TABLE certificates ADD COLUMN risk_reported INTEGER NOT NULL DEFAULT 0 CHECK (risk_reported IN (0, 1, 2));
UPDATE certificates SET risk_reported = 1 WHERE serial IN (SELECT subject FROM outbox_events WHERE type = 'certificate.renewal-overdue');
UPDATE certificates SET risk_reported = 2 WHERE serial IN (SELECT subject FROM outbox_events WHERE type = 'certificate.expiring-unrenewed');
-- Not told of yet, by due time: the check reads those past it.
CREATE INDEX certificates_overdue_unreported ON certificates (renewal_due_at, serial) WHERE status = 'valid' AND replaced_by IS NULL AND risk_reported = 0;
-- Told overdue, by expiry: the check reads those within notifications.expiringWithin.
CREATE INDEX certificates_expiring_unreported ON certificates (not_after, serial) WHERE status = 'valid' AND replaced_by IS NULL AND risk_reported = 1;
