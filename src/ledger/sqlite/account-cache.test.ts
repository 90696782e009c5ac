import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountRecord } from '../../../test/support/ledger-records.js';
import { SqliteLedger } from './ledger.js';

// The account cache (account-cache.ts) must never serve a deactivated account or a replaced key,
// whichever connection changed it: this one, another worker's, or the certmint CLI's.
const now = new Date('2026-01-01T00:00:00Z');
let dir: string;
let file: string;
let server: SqliteLedger;
let other: SqliteLedger;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-account-cache-'));
  file = path.join(dir, 'ledger.sqlite3');
  server = new SqliteLedger({ file, now: () => now.getTime() });
  other = new SqliteLedger({ file, now: () => now.getTime(), mustExist: true });
  await server.createAccount(accountRecord('a1', 't1', now));
});
afterEach(async () => {
  for (const restore of afterEachRestore.splice(0)) restore();
  await other.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves in a later turn of the event loop, after the immediates queued before it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How many times `PRAGMA data_version` ran on the ledger's connection since this call. */
function countDataVersionReads(ledger: SqliteLedger): () => number {
  const db = (ledger as unknown as { db: Database.Database }).db;
  let reads = 0;
  const statement = Object.getPrototypeOf(db.prepare('SELECT 1')) as { get: (...a: unknown[]) => unknown };
  const get = statement.get;
  statement.get = function (this: Database.Statement, ...a: unknown[]) {
    if (this.source === 'PRAGMA data_version' && this.database === db) reads++;
    return get.apply(this, a);
  };
  afterEachRestore.push(() => (statement.get = get));
  return () => reads;
}
const afterEachRestore: (() => void)[] = [];

describe('SqliteLedger account reads', () => {
  it('see a deactivation committed by another process on the same file at once', async () => {
    expect((await server.getAccount('a1'))?.status).toBe('valid');
    expect((await server.getAccount('a1'))?.status).toBe('valid');
    await other.deactivateAccount({ accountId: 'a1', at: now, actor: 'operator:alice' });
    expect((await server.getAccount('a1'))?.status).toBe('deactivated');
  });

  it('see a key change committed by another connection, and one written past the ledger', async () => {
    expect((await server.getAccount('a1'))?.keyThumbprint).toBe('t1');
    const newJwk = { kty: 'OKP', crv: 'Ed25519', x: 't2' };
    await other.changeAccountKey({ accountId: 'a1', oldThumbprint: 't1', newThumbprint: 't2', newJwk, at: now, actor: 'account:a1' });
    expect(await server.getAccount('a1')).toMatchObject({ keyThumbprint: 't2', jwk: newJwk });
    // A restore or a hand-made fix: any committed write of another connection empties the cache.
    const raw = new Database(file);
    raw.prepare(`UPDATE accounts SET status = 'revoked' WHERE id = 'a1'`).run();
    raw.close();
    // data_version is read once per event-loop turn (account-cache.ts): the next turn sees it.
    await nextTurn();
    expect((await server.getAccount('a1'))?.status).toBe('revoked');
  });

  it('read data_version once per event-loop turn, and see a commit made during a turn from the next one', async () => {
    const versionReads = countDataVersionReads(server);
    await nextTurn();
    for (let i = 0; i < 5; i++) expect((await server.getAccount('a1'))?.status).toBe('valid');
    expect(versionReads()).toBe(1);
    const raw = new Database(file);
    raw.prepare(`UPDATE accounts SET status = 'deactivated' WHERE id = 'a1'`).run();
    raw.close();
    await nextTurn();
    expect((await server.getAccount('a1'))?.status).toBe('deactivated');
    expect(versionReads()).toBe(2);
  });

  it("see this connection's own changes at once", async () => {
    expect((await server.getAccount('a1'))?.contact).toEqual(['mailto:a@example.com']);
    await server.updateAccount('a1', { contact: ['mailto:b@example.com'] }, now);
    expect((await server.getAccount('a1'))?.contact).toEqual(['mailto:b@example.com']);
    await server.deactivateAccount({ accountId: 'a1', at: now, actor: 'account:a1' });
    expect((await server.getAccount('a1'))?.status).toBe('deactivated');
    // Key change onto a key another account holds: nothing changes, nothing stale is kept.
    await server.createAccount(accountRecord('a2', 't2', now));
    expect((await server.getAccount('a2'))?.keyThumbprint).toBe('t2');
    expect(await server.changeAccountKey({ accountId: 'a2', oldThumbprint: 't2', newThumbprint: 't1', newJwk: {}, at: now, actor: 'account:a2' }))
      .toEqual({ outcome: 'conflict', accountId: 'a1' });
    expect((await server.getAccount('a2'))?.keyThumbprint).toBe('t2');
  });
});
