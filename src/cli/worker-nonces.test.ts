import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkerNonceStore } from '../ledger/sqlite/worker-nonces.js';
import { WorkerNonceSockets, workerSocketDir } from './worker-nonces.js';

// The route of server.workers' nonces over real Unix sockets (the processes are test/e2e/workers.test.ts's):
// here two or three "workers" in this process, each its own WorkerNonceSockets on one directory.
const secret = Buffer.alloc(32, 7);
const now = () => Date.parse('2026-01-01T00:00:00Z');
let dir: string;
const routes: WorkerNonceSockets[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-nonce-sockets-'));
});
afterEach(() => {
  for (const r of routes.splice(0)) r.close();
  rmSync(dir, { recursive: true, force: true });
});

function worker(slot: number, timeoutMs?: number): { store: WorkerNonceStore; route: WorkerNonceSockets } {
  const route = new WorkerNonceSockets(dir, slot, timeoutMs);
  routes.push(route);
  return { store: new WorkerNonceStore({ secret, slot, route, now }), route };
}

/** The slot's socket answers: the first redemption may race its listen(). */
async function listening(asker: WorkerNonceStore, owner: WorkerNonceStore): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await asker.consume(await owner.issue())) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the owner never answered');
}

describe('nonce redemptions worker to worker over Unix sockets (WorkerNonceSockets)', () => {
  it('spends another worker\'s nonce once; the same nonce at both workers at once is accepted exactly once', async () => {
    const a = worker(0);
    const b = worker(1);
    await listening(b.store, a.store);
    const nonce = await a.store.issue();
    expect(await b.store.consume(nonce)).toBe(true);
    expect(await b.store.consume(nonce)).toBe(false);
    expect(await a.store.consume(nonce)).toBe(false);

    for (let i = 0; i < 50; i++) {
      const raced = await a.store.issue();
      const answers = await Promise.all([b.store.consume(raced), a.store.consume(raced), b.store.consume(raced)]);
      expect(answers.filter(Boolean)).toHaveLength(1);
    }
  });

  it('refuses at once when no worker is in the slot, and a replacement refuses its predecessor\'s nonces', async () => {
    const a = worker(0);
    const b = worker(1);
    await listening(a.store, b.store);
    const before = await b.store.issue();
    b.route.close();
    rmSync(path.join(dir, '1.sock'), { force: true });
    const t0 = performance.now();
    expect(await a.store.consume(await b.store.issue())).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);

    const replacement = worker(1);
    await listening(a.store, replacement.store);
    expect(await a.store.consume(before)).toBe(false);
  });

  it('refuses within the bound when the owner does not answer', async () => {
    const a = worker(0, 200);
    const silent = createServer(() => {}).listen(path.join(dir, '1.sock'));
    try {
      const nonce = await new WorkerNonceStore({ secret, slot: 1, route: { redeemAt: async () => false, answerWith: () => {} }, now }).issue();
      const t0 = performance.now();
      expect(await a.store.consume(nonce)).toBe(false);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    } finally {
      silent.close();
    }
  });
});

describe('workerSocketDir', () => {
  it('removes the socket directories of primaries that are gone (kill -9 of the group), and only those', () => {
    // A pid no process has: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = path.join(dir, `certmint-workers-${dead}-AbC123`);
    mkdirSync(stale);
    writeFileSync(path.join(stale, '0.sock'), '');
    const living = path.join(dir, `certmint-workers-${process.ppid}-XyZ789`);
    mkdirSync(living);
    const other = path.join(dir, 'certmint-workers-config-Qw1234');
    mkdirSync(other);
    // A symlink named like a dead primary's directory is not followed nor removed.
    const target = path.join(dir, 'target');
    mkdirSync(target);
    const link = path.join(dir, `certmint-workers-${dead}-LnK000`);
    symlinkSync(target, link);

    const made = workerSocketDir(dir);
    expect(path.basename(made)).toMatch(new RegExp(`^certmint-workers-${process.pid}-`));
    expect(existsSync(made)).toBe(true);
    expect(existsSync(stale)).toBe(false);
    expect([living, other, link, target].filter((p) => !existsSync(p))).toEqual([]);
    rmSync(made, { recursive: true, force: true });
  });
});

