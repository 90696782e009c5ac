-- Placeholder on branch s33-crl-partitions only: version 25 belongs to server.workers (branch
-- s33-workers). Migrations must be numbered without gaps; replace this file by that branch's 0025 at merge.
SELECT 1;
