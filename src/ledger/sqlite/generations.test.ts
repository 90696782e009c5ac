import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialsOf } from '../../core/revoked-columns.js';
import { migrateSqlite, readMigrations } from '../migrate.js';
import { SqliteLedger } from './ledger.js';

// Intermediate generations in an SQLite file that predates them; the ledger's behaviour with
// generations is in contract/generations.test.ts, run on every backend.
let dir: string;
let file: string;
let ledger: SqliteLedger | undefined;
const now = new Date('2026-01-01T00:00:00Z');
const SECOND = 1000;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-generations-'));
  file = path.join(dir, 'ledger.sqlite3');
});
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('issuer generations in the SQLite ledger', () => {
  it('migration 6 gives every certificate issued before it generation 1, and its CRL stays "intermediate"', async () => {
    // A ledger as certmint 0005 left it, with one revoked certificate.
    const db = new Database(file);
    db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => v as string);
    migrateSqlite(db, readMigrations().slice(0, 5), () => now.getTime());
    db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ('a1', 't1', '{}', 'valid', 0)`).run();
    db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status,
      revoked_at, revocation_reason, created_at) VALUES ('0a', 'a1', x'01', 'old chain', '[]', 'k', 0, ?, 'revoked', ?, 1, 0)`)
      .run(now.getTime() + 60 * SECOND, now.getTime());
    db.close();

    ledger = new SqliteLedger({ file });
    expect((await ledger.getCertificate('0a'))?.issuerGeneration).toBe(1);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 1))).toEqual(['0a']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 2))).toEqual([]);
    expect(await ledger.lastNotAfter(1)).toEqual(new Date(now.getTime() + 60 * SECOND));
    expect(await ledger.lastNotAfter(2)).toBeUndefined();
    const check = new Database(file, { readonly: true });
    expect(() => check.prepare('SELECT issuer_generation FROM certificates').all()).not.toThrow();
    check.close();
  });
});
