import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serialsOf } from '../../core/revoked-columns.js';
import { SqliteLedger } from './ledger.js';

// A partition's revoked list is read on the caller's thread while small (a worker thread costs
// more to start than reading it) and by the worker above 5,000 entries: both read the same list.
let dir: string;
let ledger: SqliteLedger;
const now = Date.now();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-sqlite-partitions-'));
  const file = path.join(dir, 'ledger.sqlite3');
  await new SqliteLedger({ file }).close();
  const db = new Database(file);
  db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, tos_agreed, created_at) VALUES ('a', 'a', '{}', 'valid', '[]', 1, 0)`).run();
  db.prepare(`INSERT INTO certificate_chains (id, pem) VALUES (1, '')`).run();
  const insert = db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_id, identifiers, key_hash, not_before, not_after, status, revoked_at,
    revocation_reason, created_at, crl_partition) VALUES (?, 'a', x'00', 1, '[]', ?, 0, ?, 'revoked', ?, 1, 0, ?)`);
  // Partition 1: 5,200 revoked (one expired); partition 2: 3 revoked.
  db.transaction(() => {
    for (let i = 0; i < 5200; i++) insert.run(`01${i.toString(16).padStart(8, '0')}`, `k${i}`, now + (i === 0 ? -1 : 1) * 86_400_000, now - 1000, 1);
    for (let i = 0; i < 3; i++) insert.run(`02${i.toString(16).padStart(8, '0')}`, `m${i}`, now + 86_400_000, now - 1000, 2);
  })();
  db.close();
  ledger = new SqliteLedger({ file, mustExist: true });
});
afterAll(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

it('lists a large partition (worker thread) and a small one (in process) alike: unexpired, in serial order', async () => {
  const large = await ledger.listRevokedUnexpired(new Date(now), 1, 1);
  expect(large.count).toBe(5199);
  const serials = serialsOf(large);
  expect(serials[0]).toBe('0100000001');
  expect(serials).toEqual([...serials].sort());
  expect([...large.reasons.slice(0, 3)]).toEqual([1, 1, 1]);
  const small = await ledger.listRevokedUnexpired(new Date(now), 1, 2);
  expect(serialsOf(small)).toEqual(['0200000000', '0200000001', '0200000002']);
  expect([...small.revokedAtMs]).toEqual([now - 1000, now - 1000, now - 1000]);
  expect([...small.reasons]).toEqual([1, 1, 1]);
  expect((await ledger.listRevokedUnexpired(new Date(now), 1)).count).toBe(5202);
});
