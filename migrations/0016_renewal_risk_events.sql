-- certmint ledger, version 16: certificate.renewal-overdue and certificate.expiring-unrenewed are
-- raised once per certificate (issue 22). The periodic check writes them with INSERT … ON CONFLICT
-- DO NOTHING on this index: a certificate already told of is not told again, and two instances
-- checking at once write one event between them.
CREATE UNIQUE INDEX outbox_events_once ON outbox_events (type, subject)
  WHERE type IN ('certificate.renewal-overdue', 'certificate.expiring-unrenewed');
