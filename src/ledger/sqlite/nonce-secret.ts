import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

/**
 * The ledger's nonce secret (nonce_secret, migration 0025): the first worker of server.workers to
 * open the file makes it, every other (and every later start) reads the same one, so each worker
 * can authenticate the nonces the others issued (WorkerNonceStore).
 */
export function nonceSecret(db: Database.Database, now: number): Buffer {
  db.prepare('INSERT INTO nonce_secret (id, secret, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING').run(randomBytes(32), now);
  return db.prepare('SELECT secret FROM nonce_secret WHERE id = 1').pluck().get() as Buffer;
}
