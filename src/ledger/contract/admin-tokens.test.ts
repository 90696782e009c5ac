import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import type { NewAdminToken } from '../ledger.js';

// Admin tokens: only the hash is kept, a name is unique among unrevoked tokens, create and revoke
// are audited in their own transaction, a last use is written at most once a minute.
const now = new Date('2026-03-01T00:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);

function token(name: string, role: 'viewer' | 'operator' = 'viewer', extra: Partial<NewAdminToken> = {}): NewAdminToken {
  return { id: `id-${name}-${randomBytes(4).toString('hex')}`, name, role, tokenHash: createHash('sha256').update(randomBytes(32)).digest(), createdAt: now, ...extra };
}

describeLedger('admin tokens', (backend) => {
  it('stores a token by its hash, finds it by the hash, lists it; audits its creation as the actor', async () => {
    const ledger = await backend.open();
    const alice = token('alice', 'operator', { expiresAt: later(86_400_000) });
    expect(await ledger.adminTokens.createAdminToken(alice, 'operator:root')).toBe('created');
    const found = await ledger.adminTokens.findAdminToken(alice.tokenHash);
    expect(found).toEqual({ ...alice, tokenHash: new Uint8Array(alice.tokenHash), expiresAt: later(86_400_000), revokedAt: undefined, lastUsedAt: undefined });
    expect(await ledger.adminTokens.findAdminToken(createHash('sha256').update('other').digest())).toBeUndefined();
    expect((await ledger.adminTokens.listAdminTokens()).map((t) => t.name)).toEqual(['alice']);
    const trail = await ledger.auditTrail('admin-token:alice');
    expect(trail.map((a) => [a.actor, a.action, a.detail])).toEqual([['operator:root', 'admin-token-create', { role: 'operator', expires: later(86_400_000).toISOString() }]]);
  });

  it('refuses a second unrevoked token of one name and writes nothing; after a revocation the name is free again', async () => {
    const ledger = await backend.open();
    expect(await ledger.adminTokens.createAdminToken(token('bob'), 'operator:root')).toBe('created');
    const audit = await backend.rawCount('audit_log');
    expect(await ledger.adminTokens.createAdminToken(token('bob', 'operator'), 'operator:root')).toBe('name-taken');
    expect(await backend.rawCount('admin_tokens')).toBe(1);
    expect(await backend.rawCount('audit_log')).toBe(audit);

    expect(await ledger.adminTokens.revokeAdminToken('bob', later(1000), 'operator:root')).toBe(true);
    expect(await ledger.adminTokens.revokeAdminToken('bob', later(2000), 'operator:root')).toBe(false);
    expect(await ledger.adminTokens.revokeAdminToken('nobody', later(2000), 'operator:root')).toBe(false);
    expect(await backend.rawCount('audit_log')).toBe(audit + 1);
    const second = token('bob', 'operator', { createdAt: later(5000) });
    expect(await ledger.adminTokens.createAdminToken(second, 'operator:root')).toBe('created');
    const listed = await ledger.adminTokens.listAdminTokens();
    expect(listed.map((t) => [t.name, t.role, t.revokedAt])).toEqual([
      ['bob', 'viewer', later(1000)],
      ['bob', 'operator', undefined],
    ]);
    expect((await ledger.auditTrail('admin-token:bob')).map((a) => a.action)).toEqual(['admin-token-create', 'admin-token-revoke', 'admin-token-create']);
  });

  it('a token with the same hash as another is refused by the database (hashes are unique)', async () => {
    const ledger = await backend.open();
    const a = token('a');
    await ledger.adminTokens.createAdminToken(a, 'operator:root');
    await expect(ledger.adminTokens.createAdminToken({ ...token('b'), tokenHash: a.tokenHash }, 'operator:root')).rejects.toThrow(backend.refusal.unique);
    expect(await backend.rawCount('admin_tokens')).toBe(1);
  });

  it('records the last use at most once a minute, and keeps it across a reopen', async () => {
    let ledger = await backend.open();
    const t = token('carol');
    await ledger.adminTokens.createAdminToken(t, 'operator:root');
    await ledger.adminTokens.recordAdminTokenUse(t.id, later(10_000));
    await ledger.adminTokens.recordAdminTokenUse(t.id, later(30_000));
    expect((await ledger.adminTokens.findAdminToken(t.tokenHash))?.lastUsedAt).toEqual(later(10_000));
    await ledger.adminTokens.recordAdminTokenUse(t.id, later(70_000));
    ledger = await backend.reopen();
    expect((await ledger.adminTokens.findAdminToken(t.tokenHash))?.lastUsedAt).toEqual(later(70_000));
  });
});
