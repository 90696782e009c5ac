import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { WalCheckpointer } from './checkpointer.js';
import { FALLBACK_PACES, PACE_FRAMES } from './checkpoint-state.js';
import { SqliteLedger } from './ledger.js';
import { WalDurability } from './wal-durability.js';

// A real ledger file, a real checkpoint thread (dist/ledger/sqlite/checkpoint-worker.js: npm run build first).
const dir = mkdtempSync(path.join(tmpdir(), 'certmint-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The most frames the WAL ever held: SQLite reuses the file from its start, so its size is the high-water mark. */
function walFramesHighWater(file: string): number {
  return existsSync(`${file}-wal`) ? Math.max(0, (statSync(`${file}-wal`).size - 32) / (4096 + 24)) : 0;
}

function servingConnection(name: string): { db: Database.Database; file: string; insert: () => void } {
  const file = path.join(dir, name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v BLOB)');
  // ~10 frames a commit (a 36 KB row over overflow pages), so 2,000 commits write ~20,000 frames.
  const statement = db.prepare('INSERT INTO t (v) VALUES (randomblob(36000))');
  return { db, file, insert: () => void statement.run() };
}

describe('WalCheckpointer', () => {
  it('keeps the WAL near SQLite pace under sustained durable writes, checkpointing on its own thread only', async () => {
    const { db, file, insert } = servingConnection('sustained.sqlite3');
    const warnings: string[] = [];
    const checkpointer = new WalCheckpointer(db, file, { warn: (line) => warnings.push(line) });
    const wal = new WalDurability(`${file}-wal`, () => checkpointer.committed());
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // As in serve, where the ledger opens well before the first request.
    await checkpointer.started;
    for (let i = 0; i < 2000; i += 1) {
      insert();
      // As the server does: the response waits for the WAL's fdatasync on the thread pool.
      await wal.afterCommit();
    }
    // Without the thread (autocheckpoint 0, nothing checkpointing) the WAL holds all ~20,000 frames.
    const { count, ms } = checkpointer.threadCheckpoints;
    const serving = checkpointer.servingCheckpoints;
    console.log(`WAL high-water ${walFramesHighWater(file)} frames; thread checkpoints ${count} (${ms.toFixed(0)} ms), serving thread ${serving.count} (${serving.ms.toFixed(1)} ms)`);
    expect(walFramesHighWater(file)).toBeLessThanOrEqual((FALLBACK_PACES + 2) * PACE_FRAMES);
    expect(count).toBeGreaterThanOrEqual(10);
    // The serving thread checkpointed only to finish a WAL the thread's passes left incomplete: never behind.
    expect(checkpointer.fallbacks).toBe(0);
    expect(serving.count * 4).toBeLessThanOrEqual(count);
    expect(checkpointer.mode).toBe('thread');
    expect(warnings).toEqual([]);
    const started = performance.now();
    await checkpointer.close();
    // Closing does not hang: the thread sees the stop at once (its wait is woken, not timed out).
    expect(performance.now() - started).toBeLessThan(1000);
    expect(checkpointer.thread.threadId).toBe(-1);
    expect(checkpointer.mode).toBe('closed');
    await wal.close();
    db.close();
  });

  it('checkpoints on the serving thread when the thread falls behind, and takes SQLite autocheckpoint back once it has ended', async () => {
    const { db, file, insert } = servingConnection('ended.sqlite3');
    const warnings: string[] = [];
    const checkpointer = new WalCheckpointer(db, file, { warn: (line) => warnings.push(line) });
    await checkpointer.started;
    const ended = new Promise((resolve) => checkpointer.thread.once('exit', resolve));
    void checkpointer.thread.terminate();
    // Commits without yielding to the event loop, so that the thread's end is not seen yet: the
    // thread is behind, as a stuck one would be, and the serving connection checkpoints itself
    // every FALLBACK_PACES paces (PASSIVE, on this thread).
    for (let i = 0; i < 1000; i += 1) {
      insert();
      checkpointer.committed();
    }
    expect(checkpointer.fallbacks).toBeGreaterThanOrEqual(1);
    expect(walFramesHighWater(file)).toBeLessThanOrEqual((FALLBACK_PACES + 1) * PACE_FRAMES);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/checkpoint thread is \d+ commits behind: the server checkpoints the WAL itself/);
    // Its end seen: SQLite's own automatic checkpoint again, said once.
    await ended;
    expect(checkpointer.mode).toBe('serving-thread');
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/checkpoint thread ended \(exit code \d+\): SQLite's automatic checkpoints run on the server's thread again/);
    const fallbacks = checkpointer.fallbacks;
    for (let i = 0; i < 2000; i += 1) {
      insert();
      checkpointer.committed();
    }
    expect(checkpointer.fallbacks).toBe(fallbacks);
    expect(walFramesHighWater(file)).toBeLessThanOrEqual((FALLBACK_PACES + 1) * PACE_FRAMES);
    await checkpointer.close();
    expect(warnings).toHaveLength(2);
    db.close();
  });

  it('runs in a ledger opened for serve: commits counted, closed before the connection (which removes the WAL)', async () => {
    const file = path.join(dir, 'ledger.sqlite3');
    const warnings: string[] = [];
    const ledger = new SqliteLedger({ file, checkpoints: { warn: (line) => warnings.push(line) } });
    const checkpointer = ledger.checkpointer!;
    await checkpointer.started;
    const before = checkpointer.threadCheckpoints.count;
    // ~5 frames a commit: ~3,000 frames, ~3 rounds of the thread, each woken by the commits the ledger counts.
    for (let i = 0; i < 600; i += 1) {
      await ledger.appendAudit({ at: new Date(), actor: 'operator:test', action: 'test', subject: `s${i}`, detail: { pad: 'x'.repeat(16000) } });
    }
    expect(checkpointer.threadCheckpoints.count).toBeGreaterThanOrEqual(before + 2);
    expect(walFramesHighWater(file)).toBeLessThanOrEqual((FALLBACK_PACES + 2) * PACE_FRAMES);
    const started = performance.now();
    await ledger.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(checkpointer.thread.threadId).toBe(-1);
    // The serving connection closed last: it checkpointed everything and removed the WAL.
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(warnings).toEqual([]);
    // Admin commands keep SQLite's automatic checkpoints.
    const admin = new SqliteLedger({ file, mustExist: true });
    expect(admin.checkpointer).toBeUndefined();
    await admin.close();
  });
});
