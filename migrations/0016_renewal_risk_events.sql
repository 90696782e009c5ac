-- certmint ledger, version 16: certificate.renewal-overdue and certificate.expiring-unrenewed are
-- raised once per certificate (issue 22). The periodic check writes them with INSERT … ON CONFLICT
-- DO NOTHING on these indexes: a certificate already told of is not told again, and two instances
-- checking at once write one event between them.
-- One index per event, each with a one-term WHERE: a query naming the event's type uses it (SQLite
-- cannot match `type = 'x'` to a partial index on `type IN (...)`).
CREATE UNIQUE INDEX outbox_events_overdue_once ON outbox_events (subject) WHERE type = 'certificate.renewal-overdue';
CREATE UNIQUE INDEX outbox_events_expiring_once ON outbox_events (subject) WHERE type = 'certificate.expiring-unrenewed';
