import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLedger } from './ledger.js';
import { HOLDER_LEASE_MS } from './holders.js';
import { NONCE_LIFETIME_MS } from '../nonce-format.js';
import { accountWithOrder } from '../../../test/support/ledger-records.js';
import { InProcessNonceRoutes } from '../../../test/support/in-process-nonce-routes.js';
import { WorkerNonceStore } from './worker-nonces.js';

// server.workers > 1: several processes, each its own SqliteLedger connection, on one file. Two
// connections in this process are two workers as far as the file can tell (each has its own
// holder id); only the pid check needs another process, and a dead one is spawned for it.
const start = new Date('2026-01-01T00:00:00Z');
let dir: string;
let file: string;
let clock: { t: number };
const now = () => clock.t;
const opened: SqliteLedger[] = [];

const worker = (first: boolean) => {
  const ledger = new SqliteLedger({ file, now, workers: { first } });
  opened.push(ledger);
  return ledger;
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-workers-ledger-'));
  file = path.join(dir, 'ledger.sqlite3');
  clock = { t: start.getTime() };
});
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs SQL on the file from outside any worker (what another process, or a crash, left). */
function onFile(sql: string, ...params: unknown[]): void {
  const db = new Database(file);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** A pid that existed and has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('nonces of worker processes on one SQLite file (WorkerNonceStore)', () => {
  /** A worker in `slot`, its nonce store joined to the others' through `routes` (IPC in `certmint serve`). */
  const nonceWorker = (routes: InProcessNonceRoutes, slot: number, o: { first?: boolean; maxSpent?: number } = {}) => {
    const ledger = new SqliteLedger({
      file,
      now,
      workers: { first: o.first ?? slot === 0, nonces: (secret) => new WorkerNonceStore({ secret, slot, route: routes.route(slot), now, ...(o.maxSpent ? { maxSpent: o.maxSpent } : {}) }) },
    });
    opened.push(ledger);
    return ledger;
  };

  it('a nonce one worker issued is spent once, at any worker, and refused at every worker after', async () => {
    const routes = new InProcessNonceRoutes();
    const [a, b] = [nonceWorker(routes, 0), nonceWorker(routes, 1)];
    const nonces = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).nonces.issue()));
    for (const [i, n] of nonces.entries()) expect(await (i % 3 ? a : b).nonces.consume(n)).toBe(true);
    for (const n of nonces) {
      expect(await a.nonces.consume(n)).toBe(false);
      expect(await b.nonces.consume(n)).toBe(false);
    }
  });

  it('the same nonce presented at both workers at once is accepted exactly once', async () => {
    const routes = new InProcessNonceRoutes();
    const [a, b] = [nonceWorker(routes, 0), nonceWorker(routes, 1)];
    for (const issuer of [a, b, a, b]) {
      const nonce = await issuer.nonces.issue();
      const results = await Promise.all([a.nonces.consume(nonce), b.nonces.consume(nonce), b.nonces.consume(nonce), a.nonces.consume(nonce)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('refuses the nonces of a worker that is gone, and a replacement in its slot refuses its predecessor\'s', async () => {
    const routes = new InProcessNonceRoutes();
    const [a, b] = [nonceWorker(routes, 0), nonceWorker(routes, 1)];
    const ofDead = await b.nonces.issue();
    const ofDeadToo = await b.nonces.issue();
    routes.gone(1);
    expect(await a.nonces.consume(ofDead)).toBe(false);
    // Its replacement: same slot and secret, a new incarnation, an empty spent set.
    const replacement = nonceWorker(routes, 1);
    expect(await replacement.nonces.consume(ofDeadToo)).toBe(false);
    expect(await a.nonces.consume(ofDeadToo)).toBe(false);
    const fresh = await replacement.nonces.issue();
    expect(await a.nonces.consume(fresh)).toBe(true);
    expect(await replacement.nonces.consume(fresh)).toBe(false);
  });

  it('a later start (the same secret, new incarnations) refuses the last start\'s nonces, spent or not', async () => {
    const routes = new InProcessNonceRoutes();
    const a = nonceWorker(routes, 0);
    const spent = await a.nonces.issue();
    const unspent = await a.nonces.issue();
    expect(await a.nonces.consume(spent)).toBe(true);
    await a.close();
    const restarted = nonceWorker(new InProcessNonceRoutes(), 0);
    expect(await restarted.nonces.consume(spent)).toBe(false);
    expect(await restarted.nonces.consume(unspent)).toBe(false);
    expect(await restarted.nonces.consume(await restarted.nonces.issue())).toBe(true);
  });

  it('refuses forged, foreign and expired nonces without asking their owner, and purges expired spends', async () => {
    const routes = new InProcessNonceRoutes();
    const [a, b] = [nonceWorker(routes, 0), nonceWorker(routes, 1)];
    const nonce = await a.nonces.issue();
    const flipped = Buffer.from(nonce, 'base64url');
    flipped[20]! ^= 1;
    // Another ledger's workers (another secret), and a single process's memory nonces: foreign here.
    const otherFile = path.join(dir, 'other.sqlite3');
    const other = new SqliteLedger({ file: otherFile, now, workers: { first: true, nonces: (secret) => new WorkerNonceStore({ secret, slot: 0, route: new InProcessNonceRoutes().route(0), now }) } });
    const alone = new SqliteLedger({ file: path.join(dir, 'alone.sqlite3'), now });
    opened.push(other, alone);
    let asked = 0;
    const counting = new InProcessNonceRoutes();
    const route = counting.route(1);
    const c = new WorkerNonceStore({ secret: Buffer.alloc(32), slot: 1, now, route: { ...route, redeemAt: (slot, n) => (asked++, route.redeemAt(slot, n)) } });
    for (const bad of [flipped.toString('base64url'), await other.nonces.issue(), await alone.nonces.issue(), '', 'x'.repeat(54)]) {
      expect(await b.nonces.consume(bad)).toBe(false);
      expect(await c.consume(bad)).toBe(false);
    }
    expect(asked).toBe(0);
    const old = await a.nonces.issue();
    expect(await b.nonces.consume(old)).toBe(true);
    clock.t += NONCE_LIFETIME_MS + 1000;
    expect(await b.nonces.consume(nonce)).toBe(false);
    expect(await a.nonces.purge()).toBe(1);
    // Purged, and still refused on its age alone.
    expect(await b.nonces.consume(old)).toBe(false);
  });

  it('keeps at most maxSpent spent nonces at the owner; older ones are refused, never replayed', async () => {
    const routes = new InProcessNonceRoutes();
    const [a, b] = [nonceWorker(routes, 0, { maxSpent: 3 }), nonceWorker(routes, 1)];
    const old = await a.nonces.issue();
    expect(await b.nonces.consume(old)).toBe(true);
    clock.t += 1000;
    const fresh = [await a.nonces.issue(), await a.nonces.issue(), await a.nonces.issue()];
    for (const n of fresh) expect(await b.nonces.consume(n)).toBe(true);
    expect((a.nonces as WorkerNonceStore).size).toBe(3);
    expect(await b.nonces.consume(old)).toBe(false);
    expect(await a.nonces.consume(old)).toBe(false);
  });
});

describe('work in flight among worker processes', () => {
  /** Order o1 marked ready with its two authorizations still pending, so their challenges can begin. */
  async function readyOrder(ledger: SqliteLedger): Promise<void> {
    await accountWithOrder(ledger, start, ['z1', 'z2']);
    onFile(`UPDATE orders SET status = 'ready' WHERE id = 'o1'`);
  }

  it('is never taken over from a live worker; a dead one\'s is, at once', async () => {
    const a = worker(true);
    const b = worker(false);
    await readyOrder(a);
    expect(await a.beginFinalize('o1')).toBe(true);
    expect(await a.beginChallenge('z1-c')).toBe(true);
    expect(await b.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
    expect(await a.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
    // a is killed (kill -9 runs no cleanup: its row stays), and its pid no longer exists.
    onFile('UPDATE ledger_holders SET pid = ? WHERE pid = ? AND holder IN (SELECT processing_by FROM orders WHERE id = ?)', deadPid(), process.pid, 'o1');
    expect(await b.interruptedWork()).toEqual({ orderIds: ['o1'], challenges: [{ challengeId: 'z1-c', authorizationId: 'z1', accountId: 'a1' }] });
    // b recovers it now: another live worker's sweep (and b's own next one) leaves it to b.
    const c = worker(false);
    expect(await c.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
    expect(await b.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
  });

  it('takes over the work of a holder silent past the lease even if its pid was reused', async () => {
    const a = worker(true);
    const b = worker(false);
    await readyOrder(a);
    expect(await a.beginFinalize('o1')).toBe(true);
    clock.t += HOLDER_LEASE_MS - 1;
    onFile('UPDATE ledger_holders SET heartbeat_at = ? WHERE holder IN (SELECT processing_by FROM orders WHERE id = ?)', start.getTime(), 'o1');
    expect((await b.interruptedWork()).orderIds).toEqual([]);
    clock.t += 1;
    expect((await b.interruptedWork()).orderIds).toEqual(['o1']);
  });

  it('the first worker of a start forgets the holders of the last one; a clean close leaves no row', async () => {
    const a = worker(true);
    await readyOrder(a);
    expect(await a.beginFinalize('o1')).toBe(true);
    // The whole process group was killed: the rows stay, their pids may be reused by the new start.
    const next = worker(true);
    expect((await next.interruptedWork()).orderIds).toEqual(['o1']);
    await next.close();
    const rows = new Database(file, { readonly: true });
    try {
      expect(rows.prepare('SELECT COUNT(*) FROM ledger_holders').pluck().get()).toBe(0);
    } finally {
      rows.close();
    }
  });
});
