import type Database from 'better-sqlite3';
import { AUTHZ_WITH_CHALLENGE_COLUMNS, CERTIFICATE_COLUMNS, ORDER_COLUMNS } from './raw-rows.js';

// Named columns (raw-rows.ts): processing_by/_since are the ledger's own bookkeeping, read by no caller.
const ORDER_SELECT = `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.id = ?`;

/**
 * Authorizations `a` numbered `n`, each joined with its challenges in insertion order (rowid): the
 * rows of several authorizations in one statement, so seen at one moment without a read
 * transaction (rows.ts toAuthorizations).
 */
const withChallenges = (from: string): string => `SELECT i.n, ${AUTHZ_WITH_CHALLENGE_COLUMNS}
  FROM ${from}
  LEFT JOIN challenges c ON c.authorization_id = a.id
  ORDER BY i.n, c.rowid`;

/**
 * One authorization (`where` picks it) joined with its challenges: one statement where a read of
 * the authorization and one of its challenges took two. challenges_by_authz holds a row's
 * challenges in rowid order, so SQLite walks it without sorting.
 */
const oneWithChallenges = (where: string): string => `SELECT 1 AS n, ${AUTHZ_WITH_CHALLENGE_COLUMNS}
  FROM authorizations a LEFT JOIN challenges c ON c.authorization_id = a.id
  WHERE ${where}
  ORDER BY c.rowid`;

/**
 * The account's authorization for one identifier (type, value, wildcard, now), the one `pick`
 * orders first among those `condition` allows, with its challenges. Picked by a scalar subquery,
 * then read as oneWithChallenges reads one: no materialized row and no sort of the joined rows
 * (issue 27: a new-order's read for reuse).
 */
const perIdentifier = (condition: string, pick: string): string =>
  oneWithChallenges(`a.id = (SELECT id FROM authorizations
    WHERE account_id = ? AND identifier_type = ? AND identifier_value = ? AND wildcard = ? AND ${condition} AND expires > ?
    ORDER BY ${pick} LIMIT 1)`);

/** A CRL's entries: revoked certificates until they expire (RFC 5280 §5). Run by revoked-worker.ts. */
export const REVOKED_UNEXPIRED_SQL = `SELECT serial, revoked_at, revocation_reason FROM certificates
  WHERE status = 'revoked' AND not_after > ? AND issuer_generation = ? ORDER BY serial`;

/** One partition's CRL entries (crl.partitions): read through certificates_revoked_by_partition. */
export const REVOKED_UNEXPIRED_IN_PARTITION_SQL = `SELECT serial, revoked_at, revocation_reason FROM certificates
  WHERE status = 'revoked' AND crl_partition IS NOT NULL AND issuer_generation = ? AND crl_partition = ? AND not_after > ? ORDER BY serial`;

/**
 * Every statement the SQLite ledger runs, prepared once per connection. Those marked raw() answer
 * arrays, named by raw-rows.ts.
 */
export function prepareStatements(db: Database.Database) {
  return {
    insertAccount: db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at, eab_kid, policy)
      VALUES (@id, @keyThumbprint, @jwk, 'valid', @contact, @tos, @createdAt, @eabKid, @policy) ON CONFLICT (key_thumbprint) DO NOTHING`),
    // A single-use key binds once; a revoked or expired one never.
    claimEabKey: db.prepare(`UPDATE eab_keys SET bindings = bindings + 1,
      bound_account_id = CASE WHEN reusable = 0 THEN @accountId ELSE bound_account_id END
      WHERE kid = @kid AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)
        AND (reusable = 1 OR bound_account_id IS NULL)`),
    accountById: db.prepare('SELECT * FROM accounts WHERE id = ?'),
    accountByThumbprint: db.prepare('SELECT * FROM accounts WHERE key_thumbprint = ?'),
    updateContact: db.prepare('UPDATE accounts SET contact = ? WHERE id = ?'),
    updateAccountStatus: db.prepare('UPDATE accounts SET status = ? WHERE id = ?'),
    reusableAuthz: db.prepare(perIdentifier(`status IN ('valid', 'pending')`, `status = 'valid' DESC, expires DESC`)).raw(),
    insertOrder: db.prepare(`INSERT INTO orders (id, account_id, status, identifiers, not_before, not_after, expires, created_at, profile)
      VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)`),
    // Pre-authorized (an EAB key named): valid at once; otherwise pending until a challenge settles it.
    insertAuthz: db.prepare(`INSERT INTO authorizations
      (id, account_id, identifier_type, identifier_value, wildcard, status, expires, created_at, preauthorized_eab_kid)
      VALUES (@id, @accountId, @type, @value, @wildcard, CASE WHEN @eabKid IS NULL THEN 'pending' ELSE 'valid' END, @expires, @createdAt, @eabKid)`),
    linkAuthz: db.prepare('INSERT INTO order_authorizations (order_id, authorization_id, position) VALUES (?, ?, ?)'),
    orderById: db.prepare(ORDER_SELECT).raw(),
    accountOrders: db.prepare(
      'SELECT id FROM orders WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
    ),
    accountOrdersAfter: db.prepare(`SELECT o.id FROM orders o, orders c WHERE c.id = ? AND o.account_id = ?
      AND (o.created_at < c.created_at OR (o.created_at = c.created_at AND o.id < c.id))
      ORDER BY o.created_at DESC, o.id DESC LIMIT ?`),
    authzById: db.prepare(oneWithChallenges('a.id = ?')).raw(),
    authzOfChallenge: db.prepare(oneWithChallenges('a.id = (SELECT x.authorization_id FROM challenges x WHERE x.id = ?)')).raw(),
    // The ids as a JSON array, numbered from 1 in their order.
    authzByIds: db.prepare(withChallenges('(SELECT key + 1 AS n, value AS id FROM json_each(?)) i JOIN authorizations a ON a.id = i.id')).raw(),
    challengeById: db.prepare('SELECT id, authorization_id, type, token, status, validated_at, error FROM challenges WHERE id = ?'),
    // RFC 8555 §7.1.6: one outcome per authorization. A challenge begins only while its
    // authorization is pending and no other challenge of it is being validated; one statement,
    // so under SQLite's write lock no other connection begins a sibling in between.
    beginChallenge: db.prepare(`UPDATE challenges SET status = 'processing', processing_by = ?, processing_since = ?
      WHERE id = ? AND status = 'pending'
        AND EXISTS (SELECT 1 FROM authorizations a WHERE a.id = challenges.authorization_id AND a.status = 'pending')
        AND NOT EXISTS (SELECT 1 FROM challenges o WHERE o.authorization_id = challenges.authorization_id AND o.status = 'processing')`),
    completeChallenge: db.prepare(`UPDATE challenges SET status = ?, validated_at = ?, error = ? WHERE id = ? AND status = 'processing'`),
    // Only a pending authorization takes the outcome: a settled one is never overturned, and one
    // deactivated or expired while its challenge was validated stays so.
    setAuthzStatus: db.prepare(`UPDATE authorizations SET status = ?, expires = ? WHERE id = ? AND status = 'pending'`),
    expireAuthz: db.prepare(`UPDATE authorizations SET status = 'expired' WHERE id = ? AND status IN ('pending', 'valid')`),
    // Work begun by another connection (a process that stopped): rows of this one are in flight.
    processingOrders: db.prepare(`SELECT id FROM orders WHERE status = 'processing'
      AND (processing_by IS NULL OR processing_by NOT IN (SELECT value FROM json_each(?)))`),
    processingChallenges: db.prepare(`SELECT c.id AS challengeId, c.authorization_id AS authorizationId, a.account_id AS accountId
      FROM challenges c JOIN authorizations a ON a.id = c.authorization_id WHERE c.status = 'processing'
      AND (c.processing_by IS NULL OR c.processing_by NOT IN (SELECT value FROM json_each(?)))`),
    beginFinalize: db.prepare(`UPDATE orders SET status = 'processing', processing_by = ?, processing_since = ?
      WHERE id = ? AND status IN ('pending', 'ready')`),
    // Stored orders are 'pending' until finalize; 'ready' is read from their authorizations (ra/order-status.ts).
    abandonFinalize: db.prepare(`UPDATE orders SET status = 'pending', processing_by = NULL, processing_since = NULL
      WHERE id = ? AND status = 'processing' AND processing_by = ?`),
    completeOrder: db.prepare(`UPDATE orders SET status = 'valid', certificate_serial = ? WHERE id = ? AND status = 'processing'`),
    failOrder: db.prepare(`UPDATE orders SET status = 'invalid', error = ? WHERE id = ? AND status <> 'valid'`),
    insertCertificate: db.prepare(`INSERT INTO certificates (serial, account_id, order_id, der, chain_id, identifiers,
      common_name, key_hash, not_before, not_after, status, created_at, profile, issuer_generation, identifier_set, replaces, renewal_due_at,
      crl_partition)
      VALUES (@serial, @accountId, @orderId, @der, @chainId, @identifiers, @commonName, @keyHash, @notBefore, @notAfter, 'valid', @createdAt,
        @profile, @issuerGeneration, @identifierSet, @replaces, @renewalDueAt, @crlPartition)`),
    insertCertIdentifier: db.prepare(`INSERT OR IGNORE INTO certificate_identifiers
      (identifier_type, identifier_value, serial, reversed_value) VALUES (?, ?, ?, ?)`),
    // The chain joined back from certificate_chains (migrations/0028_certificate_chains.sql).
    certificateBySerial: db.prepare(`SELECT ${CERTIFICATE_COLUMNS} FROM certificates c
      JOIN certificate_chains ch ON ch.id = c.chain_id WHERE c.serial = ?`).raw(),
    chainIdByPem: db.prepare('SELECT id FROM certificate_chains WHERE pem = ?').pluck(),
    insertChain: db.prepare('INSERT INTO certificate_chains (pem) VALUES (?) RETURNING id').pluck(),
    revoke: db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
      WHERE serial = ? AND status = 'valid'`),
    certificateStatus: db.prepare('SELECT status, key_hash, account_id, issuer_generation, crl_partition FROM certificates WHERE serial = ?'),
    readinessProbe: db.prepare(`INSERT INTO readiness_probe (id, checked_at) VALUES (1, ?)
      ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`),
    blockKey: db.prepare('INSERT OR IGNORE INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES (?, ?, ?)'),
    keyBlocked: db.prepare('SELECT 1 FROM blocked_keys WHERE key_hash = ?'),
    // The row of a generation's CRL is created by its first revocation or its first CRL.
    markCrlDirty: db.prepare(`INSERT INTO crl_state (issuer) VALUES (?) ON CONFLICT (issuer) DO UPDATE SET dirty = 1`),
    // A partition's row is created by its first certificate (stale, so its first CRL is built):
    // the publisher refreshes every partition that has one, whatever crl.partitions says now.
    createCrlState: db.prepare('INSERT INTO crl_state (issuer) VALUES (?) ON CONFLICT (issuer) DO NOTHING'),
    validAuthz: db.prepare(perIdentifier(`status = 'valid'`, 'expires DESC')).raw(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
