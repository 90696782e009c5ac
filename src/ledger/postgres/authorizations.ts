import type { Identifier } from '../../core/identifier.js';
import type { ChallengeOutcome } from '../ledger.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import type { AuthorizationRecord, ChallengeRecord } from '../records.js';
import { optMs, toAuthorizations, toChallenge, type AuthorizationChallengeRow, type ChallengeRow } from '../rows.js';

/**
 * The order of an authorization's challenges. SQLite lists them in insertion order (rowid);
 * PostgreSQL keeps no insertion order (an updated row moves), and challenges have no position
 * column, so they are listed in the order ra/ creates them (orders.ts challengeTypesFor), which is
 * the same for every authorization certmint makes.
 */
const CHALLENGE_ORDER = `CASE c.type WHEN 'http-01' THEN 0 WHEN 'dns-01' THEN 1 WHEN 'tls-alpn-01' THEN 2 WHEN 'dns-persist-01' THEN 3 END, c.id COLLATE "C"`;

/** Authorizations `a` numbered `n`, each joined with its challenges, in order. */
const withChallenges = (from: string): string => `SELECT i.n, a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard,
    a.status, a.expires, a.created_at, a.preauthorized_eab_kid, c.id AS c_id, c.type AS c_type, c.token AS c_token, c.status AS c_status,
    c.validated_at AS c_validated_at, c.error AS c_error
  FROM ${from}
  LEFT JOIN challenges c ON c.authorization_id = a.id
  ORDER BY i.n, ${CHALLENGE_ORDER}`;

/**
 * At most one authorization per identifier (the arrays $2–$4, in their order), as `pick` orders
 * the candidates: every identifier in one statement instead of one per identifier.
 */
const perIdentifier = (condition: string, pick: string): string =>
  withChallenges(`unnest($2::text[], $3::text[], $4::boolean[]) WITH ORDINALITY AS i(identifier_type, identifier_value, wildcard, n)
  CROSS JOIN LATERAL (SELECT x.id, x.account_id, x.identifier_type, x.identifier_value, x.wildcard, x.status, x.expires, x.created_at,
      x.preauthorized_eab_kid
    FROM authorizations x WHERE x.account_id = $1 AND x.identifier_type = i.identifier_type
      AND x.identifier_value = i.identifier_value AND x.wildcard = i.wildcard AND ${condition} AND x.expires > $5
    ORDER BY ${pick} LIMIT 1) a`);

const S = {
  reusable: statement('authz.reusable', perIdentifier(`x.status IN ('valid', 'pending')`, `x.status = 'valid' DESC, x.expires DESC`)),
  valid: statement('authz.valid', perIdentifier(`x.status = 'valid'`, 'x.expires DESC')),
  byId: statement('authz.byId', withChallenges('(SELECT 1 AS n) i JOIN authorizations a ON a.id = $1')),
  ofChallenge: statement(
    'authz.ofChallenge',
    withChallenges('(SELECT 1 AS n) i JOIN authorizations a ON a.id = (SELECT x.authorization_id FROM challenges x WHERE x.id = $1)'),
  ),
  byIds: statement('authz.byIds', withChallenges('unnest($1::text[]) WITH ORDINALITY AS i(id, n) JOIN authorizations a ON a.id = i.id')),
  pending: statement('authz.pending', `SELECT COUNT(*) AS n, MIN(expires) AS soonest FROM authorizations
    WHERE account_id = $1 AND status = 'pending' AND expires > $2`),
  challengeById: statement('authz.challengeById', 'SELECT id, authorization_id, type, token, status, validated_at, error FROM challenges WHERE id = $1'),
  // The challenge's authorization row, locked: of challenges of one authorization begun at once
  // on any instances, the others wait here until the first commits.
  lockAuthzOfChallenge: statement('authz.lockOfChallenge', `SELECT a.status FROM authorizations a
    WHERE a.id = (SELECT c.authorization_id FROM challenges c WHERE c.id = $1) FOR UPDATE OF a`),
  // A statement after the lock: READ COMMITTED gives it a snapshot that holds what the first committed.
  beginChallenge: statement('authz.beginChallenge', `UPDATE challenges SET status = 'processing', processing_by = $2, processing_since = $3
    WHERE id = $1 AND status = 'pending'
      AND NOT EXISTS (SELECT 1 FROM challenges o WHERE o.authorization_id = challenges.authorization_id AND o.status = 'processing')`),
  lockAuthz: statement('authz.lock', 'SELECT 1 FROM authorizations WHERE id = $1 FOR UPDATE'),
  completeChallenge: statement('authz.completeChallenge', `UPDATE challenges SET status = $1, validated_at = $2, error = $3
    WHERE id = $4 AND status = 'processing'`),
  // Only a pending authorization takes the outcome: a settled one is never overturned, and one
  // deactivated or expired while its challenge was validated stays so.
  setAuthzStatus: statement('authz.setStatus', `UPDATE authorizations SET status = $1, expires = $2 WHERE id = $3 AND status = 'pending'`),
  expire: statement('authz.expire', `UPDATE authorizations SET status = 'expired' WHERE id = $1 AND status IN ('pending', 'valid')`),
};

/** Authorizations and their challenges in the PostgreSQL ledger (created with their order, in createOrder). */
export class PostgresAuthorizations {
  constructor(private readonly db: PostgresSession) {}

  /** Pending or valid, unexpired authorizations of this account for these identifiers. */
  findReusable(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.perIdentifier(S.reusable, accountId, identifiers, now);
  }

  findValid(accountId: string, identifiers: readonly Identifier[], now: Date): Promise<AuthorizationRecord[]> {
    return this.perIdentifier(S.valid, accountId, identifiers, now);
  }

  /** Rate limits: the account's pending, unexpired authorizations, and the soonest expiry. */
  async pending(accountId: string, now: Date): Promise<{ count: number; soonestExpiry?: Date }> {
    const r = (await this.db.query<{ n: Int8; soonest: Int8 | null }>(S.pending, [accountId, now.getTime()])).rows[0]!;
    const soonestExpiry = optMs(r.soonest);
    return { count: Number(r.n), ...(soonestExpiry !== undefined ? { soonestExpiry } : {}) };
  }

  async get(id: string): Promise<AuthorizationRecord | undefined> {
    return toAuthorizations((await this.db.query<AuthorizationChallengeRow>(S.byId, [id])).rows).get(1);
  }

  async ofChallenge(challengeId: string): Promise<AuthorizationRecord | undefined> {
    return toAuthorizations((await this.db.query<AuthorizationChallengeRow>(S.ofChallenge, [challengeId])).rows).get(1);
  }

  /** All of them, in one statement, so an order's authorizations are seen at one moment. */
  async getMany(ids: readonly string[]): Promise<AuthorizationRecord[]> {
    if (ids.length === 0) return [];
    const found = toAuthorizations((await this.db.query<AuthorizationChallengeRow>(S.byIds, [ids])).rows);
    return ids.map((id, i) => {
      const a = found.get(i + 1);
      if (!a) throw new Error(`authorization ${id} is missing from the ledger`);
      return a;
    });
  }

  async getChallenge(id: string): Promise<ChallengeRecord | undefined> {
    const row = (await this.db.query<ChallengeRow>(S.challengeById, [id])).rows[0];
    return row && toChallenge(row);
  }

  /**
   * pending → processing, marked as `owner`'s, while the authorization is pending and no other of
   * its challenges is processing (RFC 8555 §7.1.6: one outcome per authorization). The
   * authorization's row is locked first: two challenges of it begun at once on different rows
   * would otherwise each miss the other's uncommitted `processing`. READ COMMITTED: the lock, not
   * a snapshot, decides.
   */
  beginChallenge(challengeId: string, owner: string, at: number): Promise<boolean> {
    return this.db.atomic(async (tx) => {
      const authz = (await tx.query<{ status: string }>(S.lockAuthzOfChallenge, [challengeId])).rows[0];
      if (authz?.status !== 'pending') return false;
      return (await tx.query(S.beginChallenge, [challengeId, owner, at])).rowCount === 1;
    });
  }

  /**
   * The challenge's outcome and its authorization's, together; each a conditional write to its own
   * row (an outcome for a challenge no longer processing changes nothing). The authorization's
   * row is locked first, as beginChallenge locks it: one order of locks, no deadlock between them.
   */
  completeChallenge(o: ChallengeOutcome): Promise<boolean> {
    return this.db.atomic(async (tx) => {
      await tx.query(S.lockAuthz, [o.authorizationId]);
      const error = o.error ? JSON.stringify(o.error) : null;
      if ((await tx.query(S.completeChallenge, [o.challengeStatus, o.validatedAt.getTime(), error, o.challengeId])).rowCount !== 1) return false;
      await tx.query(S.setAuthzStatus, [o.authorizationStatus, o.authorizationExpires.getTime(), o.authorizationId]);
      return true;
    });
  }

  async expire(id: string): Promise<void> {
    await this.db.query(S.expire, [id]);
  }

  private async perIdentifier(
    s: typeof S.reusable,
    accountId: string,
    identifiers: readonly Identifier[],
    now: Date,
  ): Promise<AuthorizationRecord[]> {
    if (identifiers.length === 0) return [];
    // An order's "*.example.internal" is authorized by example.internal with wildcard set.
    const wildcards = identifiers.map((id) => id.value.startsWith('*.'));
    const values = identifiers.map((id, i) => (wildcards[i] ? id.value.slice(2) : id.value));
    const params = [accountId, identifiers.map((id) => id.type), values, wildcards, now.getTime()];
    return [...toAuthorizations((await this.db.query<AuthorizationChallengeRow>(s, params)).rows).values()];
  }
}
