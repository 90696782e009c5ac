import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupSqliteLedger, inspectLedgerFile, knownSchemaVersion, LedgerBackupError } from './backup.js';
import { SqliteLedger } from './ledger.js';

describe('SQLite ledger backup', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'certmint-ledger-backup-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies an open WAL ledger into one self-contained file that passes integrity_check', async () => {
    const file = path.join(dir, 'ledger.sqlite3');
    const ledger = new SqliteLedger({ file });
    try {
      const copy = path.join(dir, 'copy.sqlite3');
      expect(await backupSqliteLedger(file, copy)).toEqual({ schemaVersion: knownSchemaVersion(), certificates: 0 });
      expect(inspectLedgerFile(copy)).toEqual({ schemaVersion: knownSchemaVersion(), certificates: 0 });
      const db = new Database(copy, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
      db.close();
    } finally {
      await ledger.close();
    }
  });

  it('leaves no -wal or -shm file beside the ledger of a stopped server', async () => {
    const file = path.join(dir, 'ledger.sqlite3');
    await new SqliteLedger({ file }).close();
    await backupSqliteLedger(file, path.join(dir, 'copy.sqlite3'));
    expect((await readdir(dir)).sort()).toEqual(['copy.sqlite3', 'ledger.sqlite3']);
  });

  it('refuses a file that is not a certmint ledger', async () => {
    const other = path.join(dir, 'other.sqlite3');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => inspectLedgerFile(other)).toThrow(LedgerBackupError);
    const junk = path.join(dir, 'junk.sqlite3');
    await writeFile(junk, Buffer.alloc(4096, 1));
    expect(() => inspectLedgerFile(junk)).toThrow();
  });
});
