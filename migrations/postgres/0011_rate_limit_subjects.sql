-- certmint ledger on PostgreSQL, version 11: rate-limit takes for different subjects do not meet.
--
-- One row per (scope, subject) a rate limit counts. A take upserts and so locks its subject's row,
-- then counts and records at READ COMMITTED: takes for one subject run one after another, takes
-- for different subjects never wait for or conflict with each other. (Version 10 decided at
-- SERIALIZABLE, whose predicate locks cover whole index pages: 32 accounts created at once from 32
-- addresses failed some past the retries.) Rows whose subject has no event left are purged.
CREATE TABLE rate_limit_subjects (
  scope   TEXT NOT NULL,
  subject TEXT NOT NULL,
  PRIMARY KEY (scope, subject)
);
