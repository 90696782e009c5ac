/**
 * The retention purge's read of the outbox (both backends): events in id order after a cursor,
 * whether each may go. In id order, not by created_at: the outbox has no index on its time, and
 * ids follow it closely enough that the walk stops at the first event inside retention. Kept:
 * events not fanned out yet, with a delivery not delivered, and ca.expiring and crl.stale (their
 * rows are their once-only guard, migration 0017; certificate.renewal-overdue and
 * expiring-unrenewed have certificates.risk_reported for that). `p`: the parameters after and limit, and the fanned-out test in the backend's spelling.
 */
export function purgeCandidatesQuery(p: { after: string; limit: string; fannedOut: string }): string {
  return `SELECT e.id, e.created_at,
      (${p.fannedOut} AND e.type NOT IN ('ca.expiring', 'crl.stale')
        AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id AND d.state <> 'delivered')) AS purgeable
    FROM outbox_events e WHERE e.id > ${p.after} ORDER BY e.id LIMIT ${p.limit}`;
}

export interface PurgeCandidate {
  readonly id: number;
  readonly createdAt: number;
  readonly purgeable: boolean;
}

/** The ids to delete from one batch's candidates, and where the next batch starts (undefined: done). */
export function purgeSelection(candidates: readonly PurgeCandidate[], cutoff: Date, limit: number): { ids: number[]; next: number | undefined } {
  const ids: number[] = [];
  for (const c of candidates) {
    // Inside retention: this one and (nearly) all after it are too young; the walk ends here.
    if (c.createdAt > cutoff.getTime()) return { ids, next: undefined };
    if (c.purgeable) ids.push(c.id);
  }
  return { ids, next: candidates.length === limit ? candidates.at(-1)!.id : undefined };
}
