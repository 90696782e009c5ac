import type { ChallengeStatus, ChallengeType } from '../../core/status.js';
import type { AuthorizationRecord, ChallengeRecord } from '../records.js';
import { toAuthorization, toChallenge, type AuthorizationRow } from '../rows.js';

// What only the PostgreSQL ledger reads: its column lists and the joined authorization rows. The
// row shapes both ledgers share, and their mappers, are in rows.ts.

/** A BIGINT column of milliseconds or a count: pg hands it over as a string, since not every one fits a double. */
export type Int8 = string;

// Column lists, never `SELECT *`: a named statement prepared on a connection must keep its result
// shape when another instance migrates the schema under it.
export const ACCOUNT_COLUMNS = 'id, key_thumbprint, jwk, status, contact, tos_agreed, created_at, eab_kid, policy';
export const EAB_KEY_COLUMNS = 'kid, label, policy, hmac_sealed, reusable, created_at, expires_at, revoked_at, bound_account_id, bindings';
export const CERTIFICATE_SUMMARY_COLUMNS = `serial, account_id, identifiers, common_name, not_before, not_after, status, revoked_at,
  revocation_reason, created_at, profile, replaces, replaced_by, renewal_due_at`;
export const CERTIFICATE_COLUMNS = `${CERTIFICATE_SUMMARY_COLUMNS}, order_id, der, chain_pem, key_hash, issuer_generation, crl_partition`;

/**
 * An authorization joined with one of its challenges (c_* NULL when it has none), numbered by
 * the position `n` of what was asked for, so one query answers a list in the caller's order.
 */
export interface AuthorizationChallengeRow extends AuthorizationRow {
  n: Int8;
  c_id: string | null;
  c_type: ChallengeType | null;
  c_token: string | null;
  c_status: ChallengeStatus | null;
  c_validated_at: Int8 | null;
  c_error: string | null;
}

/** Rows ordered by n then challenge → one authorization per n, keyed by n. */
export function toAuthorizations(rows: readonly AuthorizationChallengeRow[]): Map<number, AuthorizationRecord> {
  const out = new Map<number, AuthorizationRecord>();
  const challengesOf = new Map<number, ChallengeRecord[]>();
  for (const r of rows) {
    const n = Number(r.n);
    let challenges = challengesOf.get(n);
    if (challenges === undefined) {
      challenges = [];
      challengesOf.set(n, challenges);
      out.set(n, toAuthorization(r, challenges));
    }
    if (r.c_id !== null) {
      challenges.push(
        toChallenge({
          id: r.c_id,
          authorization_id: r.id,
          type: r.c_type as ChallengeType,
          token: r.c_token as string,
          status: r.c_status as ChallengeStatus,
          validated_at: r.c_validated_at,
          error: r.c_error,
        }),
      );
    }
  }
  return out;
}
