-- certmint ledger, version 23 on PostgreSQL (issue 25): the issuances of a day counted from an index alone.
-- The overview's chart of issuances per day (GET /api/v1/summary) counts the `issue` entries of the
-- audit log day by day: with the action in the index's condition each count is a range of this
-- index, not a read of every audit entry of the day (on 1,000,000 issuances 0.36 s became 0.05 s,
-- docs/benchmarks.md).
CREATE INDEX audit_log_issues_by_time ON audit_log (at) WHERE action = 'issue';
