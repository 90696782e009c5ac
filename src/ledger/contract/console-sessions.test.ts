import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import type { AdminTokenRecord, NewAdminToken } from '../ledger.js';

// Console sessions: kept by the SHA-256 of the cookie, found with their token in one read, a use
// written at most once a minute, sign-in audited with the session's creation, ended sessions
// deleted as new ones start; on both backends (several instances share a PostgreSQL ledger).
const now = new Date('2026-03-01T00:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const hash = () => createHash('sha256').update(randomBytes(32)).digest();
const bounds = (at: Date) => ({ idleBefore: new Date(at.getTime() - 15 * 60_000), createdBefore: new Date(at.getTime() - 8 * 3600_000) });

async function adminToken(ledger: Awaited<ReturnType<Parameters<Parameters<typeof describeLedger>[1]>[0]['open']>>, name: string): Promise<AdminTokenRecord> {
  const t: NewAdminToken = { id: `id-${name}`, name, role: 'operator', tokenHash: hash(), createdAt: now };
  await ledger.adminTokens.createAdminToken(t, 'operator:root');
  return (await ledger.adminTokens.findAdminToken(t.tokenHash))!;
}

describeLedger('console sessions', (backend) => {
  it('starts a session for a token, audits the sign-in with it, finds it with its token by the hash, and ends it', async () => {
    const ledger = await backend.open();
    const alice = await adminToken(ledger, 'alice');
    const idHash = hash();
    await ledger.adminTokens.createConsoleSession({ idHash, token: alice, csrf: 'csrf-a', createdAt: now }, bounds(now));
    expect(await ledger.adminTokens.findConsoleSession(idHash)).toEqual({ idHash: new Uint8Array(idHash), csrf: 'csrf-a', createdAt: now, lastSeenAt: now, token: alice });
    expect(await ledger.adminTokens.findConsoleSession(hash())).toBeUndefined();
    const trail = await ledger.auditTrail('admin-token:alice');
    expect(trail.map((a) => [a.actor, a.action])).toEqual([
      ['operator:root', 'admin-token-create'],
      ['admin:alice', 'console-sign-in'],
    ]);
    expect(await ledger.adminTokens.endConsoleSession(idHash)).toBe(true);
    expect(await ledger.adminTokens.endConsoleSession(idHash)).toBe(false);
    expect(await ledger.adminTokens.findConsoleSession(idHash)).toBeUndefined();
  });

  it('a session shows its token as it is now: revoked after sign-in, the record says so', async () => {
    const ledger = await backend.open();
    const bob = await adminToken(ledger, 'bob');
    const idHash = hash();
    await ledger.adminTokens.createConsoleSession({ idHash, token: bob, csrf: 'c', createdAt: now }, bounds(now));
    await ledger.adminTokens.revokeAdminToken('bob', later(1000), 'operator:root');
    expect((await ledger.adminTokens.findConsoleSession(idHash))?.token.revokedAt).toEqual(later(1000));
  });

  it('writes a use at most once a minute, and keeps it across a reopen', async () => {
    let ledger = await backend.open();
    const carol = await adminToken(ledger, 'carol');
    const idHash = hash();
    await ledger.adminTokens.createConsoleSession({ idHash, token: carol, csrf: 'c', createdAt: now }, bounds(now));
    await ledger.adminTokens.touchConsoleSession(idHash, later(30_000));
    expect((await ledger.adminTokens.findConsoleSession(idHash))?.lastSeenAt).toEqual(now);
    await ledger.adminTokens.touchConsoleSession(idHash, later(60_000));
    await ledger.adminTokens.touchConsoleSession(idHash, later(90_000));
    ledger = await backend.reopen();
    expect((await ledger.adminTokens.findConsoleSession(idHash))?.lastSeenAt).toEqual(later(60_000));
  });

  it('deletes sessions idle past the bound or older than the maximum when a new one starts, and no other', async () => {
    const ledger = await backend.open();
    const dave = await adminToken(ledger, 'dave');
    const [old, idle, live] = [hash(), hash(), hash()];
    const h = (hours: number) => later(hours * 3600_000);
    // "old" stays in use all along (never idle) but was created 8 h before the last sign-in;
    // "idle" was last seen 37 minutes before it; "live" is neither.
    await ledger.adminTokens.createConsoleSession({ idHash: old, token: dave, csrf: 'c', createdAt: now }, bounds(now));
    await ledger.adminTokens.touchConsoleSession(old, h(7.3));
    await ledger.adminTokens.createConsoleSession({ idHash: idle, token: dave, csrf: 'c', createdAt: h(7.4) }, bounds(h(7.4)));
    await ledger.adminTokens.createConsoleSession({ idHash: live, token: dave, csrf: 'c', createdAt: h(7.5) }, bounds(h(7.5)));
    await ledger.adminTokens.touchConsoleSession(old, h(7.9));
    await ledger.adminTokens.touchConsoleSession(live, h(7.9));
    expect(await backend.rawCount('console_sessions')).toBe(3);
    const at = later(8 * 3600_000 + 60_000);
    await ledger.adminTokens.createConsoleSession({ idHash: hash(), token: dave, csrf: 'c', createdAt: at }, bounds(at));
    expect(await ledger.adminTokens.findConsoleSession(old)).toBeUndefined();
    expect(await ledger.adminTokens.findConsoleSession(idle)).toBeUndefined();
    expect(await ledger.adminTokens.findConsoleSession(live)).toBeDefined();
    expect(await backend.rawCount('console_sessions')).toBe(2);
  });

  it('refuses a session for a token that is not in the ledger, and writes nothing', async () => {
    const ledger = await backend.open();
    const ghost: AdminTokenRecord = { id: 'nope', name: 'ghost', role: 'viewer', tokenHash: hash(), createdAt: now, expiresAt: undefined, revokedAt: undefined, lastUsedAt: undefined };
    const audit = await backend.rawCount('audit_log');
    await expect(ledger.adminTokens.createConsoleSession({ idHash: hash(), token: ghost, csrf: 'c', createdAt: now }, bounds(now))).rejects.toThrow();
    expect(await backend.rawCount('console_sessions')).toBe(0);
    expect(await backend.rawCount('audit_log')).toBe(audit);
  });
});
