import { mkdtempSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { WalDurability, WalSyncError } from './wal-durability.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-wal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function walDatabase(name: string): { db: Database.Database; file: string } {
  const file = path.join(dir, name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v TEXT)');
  return { db, file };
}

describe('WalDurability', () => {
  it('resolves after the WAL holding the commit is synced, one sync shared by concurrent writers', async () => {
    const { db, file } = walDatabase('shared.sqlite3');
    const wal = new WalDurability(`${file}-wal`);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const writes = Array.from({ length: 50 }, (_, i) => {
      insert.run(`row ${i}`);
      return wal.afterCommit();
    });
    await Promise.all(writes);
    // 50 commits: the first waits for its own sync, every later one rides on the next.
    expect(wal.syncs).toBeGreaterThanOrEqual(1);
    expect(wal.syncs).toBeLessThanOrEqual(2);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    insert.run('one more');
    await wal.afterCommit();
    expect(wal.syncs).toBeLessThanOrEqual(3);
    await wal.close();
    db.close();
  });

  it('rejects every waiter when the sync fails, and tries again for the next commit', async () => {
    const wal = new WalDurability(path.join(dir, 'no-such-ledger.sqlite3-wal'));
    const failed = await Promise.allSettled([wal.afterCommit(), wal.afterCommit()]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toMatch(/ENOENT/);
    const { db, file } = walDatabase('no-such-ledger.sqlite3');
    db.prepare('INSERT INTO t (v) VALUES (?)').run('now it exists');
    await expect(wal.afterCommit()).resolves.toBeUndefined();
    expect(file).toContain('no-such-ledger');
    await wal.close();
    db.close();
  });

  it('after a failed fdatasync reports no commit durable again, even when a later sync would succeed', async () => {
    // A real failing fdatasync: the WAL path leads to /dev/full (fsync of a character device is
    // EINVAL). Then it leads to a real WAL where a sync succeeds, as a disk whose fault cleared
    // would, or as a new descriptor does after Linux reported the writeback error once.
    const { db, file } = walDatabase('failed-sync.sqlite3');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const walPath = path.join(dir, 'failed-sync-wal-link');
    symlinkSync('/dev/full', walPath);
    const wal = new WalDurability(walPath);
    insert.run('lost?');
    const failed = await Promise.allSettled([wal.afterCommit(), wal.afterCommit()]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const reason = (failed[0] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(WalSyncError);
    expect(reason.message).toMatch(/could not be flushed to disk \(EINVAL\).*restart certmint/);

    const healthy = path.join(dir, 'failed-sync-wal-healthy');
    symlinkSync(`${file}-wal`, healthy);
    renameSync(healthy, walPath);
    insert.run('after the fault');
    await expect(wal.afterCommit()).rejects.toBe(reason);
    await expect(wal.afterCommit()).rejects.toBe(reason);
    // The same path, a new WalDurability (certmint restarted): syncs again.
    const restarted = new WalDurability(walPath);
    await expect(restarted.afterCommit()).resolves.toBeUndefined();
    await Promise.all([wal.close(), restarted.close()]);
    db.close();
  });
});
