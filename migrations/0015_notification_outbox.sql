-- Notifications (issue 22): the outbox. An event is written in the same transaction as the change
-- that caused it (with its audit entry: certificate.issued, certificate.revoked, account.created,
-- eab.bound), so it is delivered at least once even if the process dies right after the commit.
CREATE TABLE outbox_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  -- Certmint-Delivery: what receivers drop duplicates by.
  delivery_id TEXT NOT NULL UNIQUE,
  type        TEXT NOT NULL CHECK (type IN ('certificate.issued', 'certificate.revoked', 'certificate.renewal-overdue',
                'certificate.expiring-unrenewed', 'ca.expiring', 'crl.stale', 'account.created', 'eab.bound')),
  -- The certificate's serial (hex), "account:<id>" or "eab:<kid>".
  subject     TEXT NOT NULL,
  payload     TEXT NOT NULL,   -- JSON
  created_at  INTEGER NOT NULL,
  -- 0 until the deliverer has made one delivery row per webhook that wants the event.
  fanned_out  INTEGER NOT NULL DEFAULT 0 CHECK (fanned_out IN (0, 1))
);
CREATE INDEX outbox_events_unfanned ON outbox_events (id) WHERE fanned_out = 0;

-- One event to one webhook (by its name in notifications.webhooks).
CREATE TABLE outbox_deliveries (
  event_id        INTEGER NOT NULL REFERENCES outbox_events (id),
  webhook         TEXT NOT NULL,
  subject         TEXT NOT NULL,   -- the event's: deliveries of one subject go out in event order
  state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  delivered_at    INTEGER,
  -- The instance sending it, until when (a sender that died is replaced after the lease).
  lease_holder    TEXT,
  lease_until     INTEGER,
  PRIMARY KEY (event_id, webhook)
);
CREATE INDEX outbox_deliveries_pending ON outbox_deliveries (webhook, subject, event_id) WHERE state = 'pending';
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_deliveries_failed ON outbox_deliveries (event_id) WHERE state = 'failed';
