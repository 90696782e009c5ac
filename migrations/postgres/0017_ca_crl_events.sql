-- certmint ledger on PostgreSQL, version 17 (port of migrations/0017_ca_crl_events.sql, issue 22): ca.expiring is raised once per CA certificate, crl.stale
-- once per stale CRL (subject "crl:<issuer>:<CRL number>": the next CRL that goes stale raises again).
-- The serve process's periodic check writes them with INSERT … ON CONFLICT DO NOTHING on these
-- indexes, as 0016 does: two instances checking at once write one event between them.
CREATE UNIQUE INDEX outbox_events_ca_expiring_once ON outbox_events (subject) WHERE type = 'ca.expiring';
CREATE UNIQUE INDEX outbox_events_crl_stale_once ON outbox_events (subject) WHERE type = 'crl.stale';
