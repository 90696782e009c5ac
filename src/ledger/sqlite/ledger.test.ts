import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaError, readMigrations } from '../migrate.js';
import { SqliteLedger } from './ledger.js';

// What only the SQLite file shows; the ledger's behaviour is in contract/ledger.test.ts, run on every backend.
let dir: string;
let file: string;
let ledger: SqliteLedger;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-ledger-'));
  file = path.join(dir, 'ledger.sqlite3');
  ledger = new SqliteLedger({ file });
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteLedger', () => {
  it('runs the migrations on a new file in WAL mode', () => {
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[];
    expect(versions.map((v) => v.version)).toEqual(readMigrations().map((m) => m.version));
    db.close();
  });

  it('refuses statuses outside the CHECK constraints', () => {
    const db = new Database(file);
    expect(() =>
      db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ('x', 'y', '{}', 'bogus', 0)`).run(),
    ).toThrow(/CHECK constraint/);
    db.close();
  });

  it('refuses to open a ledger written by a newer schema', async () => {
    await ledger.close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('9999_future');
    db.close();
    expect(() => new SqliteLedger({ file })).toThrow(SchemaError);
    expect(() => new SqliteLedger({ file })).toThrow(/schema version 999/);
    ledger = new SqliteLedger({ file: path.join(dir, 'other.sqlite3') });
  });
});
