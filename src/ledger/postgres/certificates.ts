import { issueAuditEntry } from '../audit-entries.js';
import { crlIssuerOfCertificate, partitionCrlIssuer, type RevocationOutcome, type RevocationRecord } from '../ledger.js';
import { reverseLabels } from '../names.js';
import type { PostgresAuditLog } from './audit.js';
import { CERTIFICATE_COLUMNS } from './rows.js';
import { defaultRenewalDueAt, identifierSetKey } from '../lineage.js';
import { statement, type PostgresSession, type Queryable } from './transaction.js';
import type { CertificateRecord, NewCertificate } from '../records.js';
import { toCertificate, type CertificateRow } from '../rows.js';

const S = {
  insert: statement('certs.insert', `INSERT INTO certificates (serial, account_id, order_id, der, chain_id, identifiers,
      common_name, key_hash, not_before, not_after, status, created_at, profile, issuer_generation, identifier_set, replaces, renewal_due_at,
      crl_partition)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'valid', $11, $12, $13, $14, $15, $16, $17)`),
  // Lineage (ledger/lineage.ts, migrations/postgres/0014_lineage.sql): the certificate the order
  // named in ARI "replaces", else the newest still-valid one of the account with the same
  // identifier set, or for the server's own certificate (no account) the newest server certificate.
  ariReplaced: statement('certs.ariReplaced', 'SELECT serial FROM replacements WHERE order_id = $1'),
  newestOfAccount: statement('certs.newestOfAccount', `SELECT serial FROM certificates
    WHERE account_id = $1 AND identifier_set = $2 AND status = 'valid' AND not_after > $3
    ORDER BY created_at DESC, serial COLLATE "C" DESC LIMIT 1`),
  newestOfServer: statement('certs.newestOfServer', `SELECT serial FROM certificates
    WHERE account_id IS NULL AND status = 'valid' AND not_after > $1
    ORDER BY created_at DESC, serial COLLATE "C" DESC LIMIT 1`),
  // After the key's advisory lock (completeFinalize): a keyCompromise revocation of the predecessor
  // with the same key takes them the other way round; PostgreSQL aborts one of the two (40P01) and
  // atomic() runs it again.
  markReplaced: statement('certs.markReplaced', 'UPDATE certificates SET replaced_by = $1 WHERE serial = $2 AND replaced_by IS NULL'),
  // Every identifier in one statement; the reversed name serves the inventory's "*.suffix" range scans.
  insertIdentifiers: statement('certs.insertIdentifiers', `INSERT INTO certificate_identifiers
      (identifier_type, identifier_value, serial, reversed_value)
    SELECT t, v, $1, r FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, v, r)
    ON CONFLICT (identifier_type, identifier_value, serial) DO NOTHING`),
  bySerial: statement('certs.bySerial', `SELECT ${CERTIFICATE_COLUMNS} FROM certificates
    JOIN certificate_chains ch ON ch.id = certificates.chain_id WHERE serial = $1`),
  // A chain is found by its digest (certificate_chains_by_digest), then compared whole.
  chainId: statement('certs.chainId', `SELECT id FROM certificate_chains
    WHERE md5(pem) = md5($1::text) AND pem = $1`),
  insertChain: statement('certs.insertChain', 'INSERT INTO certificate_chains (pem) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id'),
  revoke: statement('certs.revoke', `UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2
    WHERE serial = $3 AND status = 'valid' RETURNING key_hash, issuer_generation, crl_partition`),
  exists: statement('certs.exists', 'SELECT 1 FROM certificates WHERE serial = $1'),
  blockKey: statement('certs.blockKey', `INSERT INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES ($1, $2, $3)
    ON CONFLICT (key_hash) DO NOTHING`),
  keyBlocked: statement('certs.keyBlocked', 'SELECT 1 FROM blocked_keys WHERE key_hash = $1'),
  // A key not blocked has no row to lock: the transactions that block a key and those that commit a
  // certificate for it meet on a lock named by the key (KEY_LOCK_SPACE, hash of the key), held to commit.
  lockKey: statement('certs.lockKey', 'SELECT pg_advisory_xact_lock($1::integer, hashtext($2))'),
  // The row of a generation's CRL is created by its first revocation or its first CRL.
  markCrlDirty: statement('certs.markCrlDirty', 'INSERT INTO crl_state (issuer) VALUES ($1) ON CONFLICT (issuer) DO UPDATE SET dirty = TRUE'),
  // A partition's row is created by its first certificate (stale, so its first CRL is built): the
  // publisher refreshes every partition that has one, whatever crl.partitions says now.
  createCrlState: statement('certs.createCrlState', 'INSERT INTO crl_state (issuer) VALUES ($1) ON CONFLICT (issuer) DO NOTHING'),
};

/**
 * The first key of the two-key advisory locks on certificate keys (pg_advisory_xact_lock(int, int)):
 * apart from other users of the database. Two keys whose hashes collide only wait for each other.
 */
const KEY_LOCK_SPACE = 0x63_6b_65_79; // "ckey"

/** Certificates, their revocation and blocked keys in the PostgreSQL ledger, each change with its audit entry. */
export class PostgresCertificates {
  /**
   * Chain PEM → the id of its committed row in certificate_chains, so that an instance looks a
   * chain up once rather than on every issuance (one round trip fewer per certificate). Safe here
   * and not on SQLite: rows of certificate_chains are never deleted and identity ids are never
   * handed out again, so an id read from a committed row stays that chain's. An id this instance
   * inserted is not kept (its transaction may still roll back); the next issuance finds it
   * committed. A row a lookup finds is a committed one because a transaction inserts one
   * certificate (insert, or an order's completion) and looks its chain up before it could insert
   * it. A CA has a handful of chains (one per intermediate generation and profile).
   */
  private readonly committedChains = new Map<string, string>();

  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  /** A certificate that belongs to no order, in its own transaction. */
  insert(c: NewCertificate): Promise<void> {
    return this.db.atomic((tx) => this.insertRows(tx, c));
  }

  /** The certificate, its identifier index rows and its 'issue' entry, on the caller's transaction. */
  async insertRows(tx: Queryable, c: NewCertificate): Promise<void> {
    const identifierSet = identifierSetKey(c.identifiers);
    const replaces = await this.predecessor(tx, c, identifierSet);
    await tx.query(S.insert, [
      c.serial,
      c.accountId ?? null,
      c.orderId ?? null,
      Buffer.from(c.der),
      await this.chainId(tx, c.chainPem),
      JSON.stringify(c.identifiers),
      c.commonName ?? null,
      c.keyHash,
      c.notBefore.getTime(),
      c.notAfter.getTime(),
      c.createdAt.getTime(),
      c.profile ?? null,
      c.issuerGeneration ?? 1,
      identifierSet,
      replaces ?? null,
      defaultRenewalDueAt(c.notBefore, c.notAfter).getTime(),
      c.crlPartition ?? null,
    ]);
    if (c.crlPartition !== undefined) await tx.query(S.createCrlState, [partitionCrlIssuer(c.issuerGeneration ?? 1, c.crlPartition)]);
    if (replaces !== undefined) await tx.query(S.markReplaced, [c.serial, replaces]);
    if (c.identifiers.length > 0) {
      await tx.query(S.insertIdentifiers, [
        c.serial,
        c.identifiers.map((id) => id.type),
        c.identifiers.map((id) => id.value.toLowerCase()),
        c.identifiers.map((id) => reverseLabels(id.value)),
      ]);
    }
    await this.audit.append(tx, issueAuditEntry(c));
  }

  /**
   * The id of the chain's row in certificate_chains, inserted if it is new, on the caller's READ
   * COMMITTED transaction: when another instance inserted the same chain first, the INSERT waits
   * for its commit and does nothing, and the next SELECT (a new snapshot) reads its row.
   */
  private async chainId(tx: Queryable, pem: string): Promise<string> {
    const known = this.committedChains.get(pem);
    if (known !== undefined) return known;
    const found = (await tx.query<{ id: string }>(S.chainId, [pem])).rows[0];
    if (found) return this.committed(pem, found.id);
    const inserted = (await tx.query<{ id: string }>(S.insertChain, [pem])).rows[0];
    if (inserted) return inserted.id;
    const raced = (await tx.query<{ id: string }>(S.chainId, [pem])).rows[0];
    if (!raced) throw new Error('the certificate chain was neither found nor inserted');
    return this.committed(pem, raced.id);
  }

  /** Keeps a chain's id read from a committed row (found by a READ COMMITTED snapshot). */
  private committed(pem: string, id: string): string {
    // A bound for a CA that keeps changing its chain: start again rather than grow.
    if (this.committedChains.size >= 64) this.committedChains.clear();
    this.committedChains.set(pem, id);
    return id;
  }

  /** What a new certificate replaces, read on the inserting transaction. */
  private async predecessor(tx: Queryable, c: NewCertificate, identifierSet: string): Promise<string | undefined> {
    if (c.orderId !== undefined) {
      const named = (await tx.query<{ serial: string }>(S.ariReplaced, [c.orderId])).rows[0];
      if (named) return named.serial;
    }
    const at = c.createdAt.getTime();
    const { rows } =
      c.accountId === undefined
        ? await tx.query<{ serial: string }>(S.newestOfServer, [at])
        : await tx.query<{ serial: string }>(S.newestOfAccount, [c.accountId, identifierSet, at]);
    return rows[0]?.serial;
  }

  async get(serial: string): Promise<CertificateRecord | undefined> {
    const row = (await this.db.query<CertificateRow>(S.bySerial, [serial])).rows[0];
    return row && toCertificate(row);
  }

  /**
   * valid → revoked with its audit entry, the key blocked if asked, and its CRL marked stale, in
   * one transaction. The conditional UPDATE of the certificate's row decides: of instances
   * revoking one certificate at once, the others wait for its row lock and then find it revoked
   * (READ COMMITTED re-checks the status against the committed row), so one revokes it.
   */
  revoke(r: RevocationRecord): Promise<RevocationOutcome> {
    return this.db.atomic(async (tx): Promise<RevocationOutcome> => {
      const at = r.revokedAt.getTime();
      const revoked = (
        await tx.query<{ key_hash: string; issuer_generation: number; crl_partition: number | null }>(S.revoke, [at, r.reason, r.serial])
      ).rows[0];
      if (revoked === undefined) return (await tx.query(S.exists, [r.serial])).rowCount === 0 ? 'unknown' : 'alreadyRevoked';
      // A finalize committing a certificate for this key waits for this commit and then sees the
      // block; one that holds the lock first commits its certificate before this goes on.
      if (r.blockKey) await this.lockKey(tx, revoked.key_hash);
      await this.audit.append(tx, { at: r.revokedAt, actor: r.actor, action: 'revoke', subject: r.serial, detail: { reason: r.reason } });
      if (r.blockKey) await tx.query(S.blockKey, [revoked.key_hash, at, r.serial]);
      // Only the CRL its distribution point names: a partition's revocation leaves the others alone.
      await tx.query(S.markCrlDirty, [crlIssuerOfCertificate(revoked.issuer_generation, revoked.crl_partition)]);
      return 'revoked';
    });
  }

  async isKeyBlocked(keyHash: string, on: Queryable = this.db): Promise<boolean> {
    return ((await on.query(S.keyBlocked, [keyHash])).rowCount ?? 0) > 0;
  }

  /**
   * Until `tx` ends, no other transaction blocks this key or commits a certificate for it through
   * this lock. Its own statement: the next statement of `tx` (READ COMMITTED) sees what the
   * holder before it committed.
   */
  async lockKey(tx: Queryable, keyHash: string): Promise<void> {
    await tx.query(S.lockKey, [KEY_LOCK_SPACE, keyHash]);
  }
}
