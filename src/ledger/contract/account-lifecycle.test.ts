import { beforeEach, expect, it } from 'vitest';
import type { CertificateLedger } from '../ledger.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, auditAfterCreation, validateChallenge } from '../../../test/support/ledger-records.js';

const now = new Date('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

const authz = (id: string, accountId: string, value: string) => authorizationRecord(id, accountId, value, now);

const change = (accountId: string, oldThumbprint: string, newThumbprint: string) => ({
  accountId,
  oldThumbprint,
  newThumbprint,
  newJwk: { kty: 'OKP', crv: 'Ed25519', x: newThumbprint },
  at: now,
  actor: `account:${accountId}`,
});

describeLedger('account lifecycle in the ledger', (backend) => {
  let ledger: CertificateLedger;
  beforeEach(async () => {
    ledger = await backend.open();
  });
  const newAccount = (id: string, thumb: string) => ledger.createAccount(accountRecord(id, thumb, now));

  it('changes a key only from the key the change was authorized with, and never onto a held key', async () => {
    await newAccount('a1', 't1');
    await newAccount('a2', 't2');
    // Another request changed the key first: the old thumbprint no longer matches.
    expect(await ledger.changeAccountKey(change('a1', 't-other', 't3'))).toEqual({ outcome: 'stale' });
    expect(await ledger.changeAccountKey(change('a1', 't1', 't2'))).toEqual({ outcome: 'conflict', accountId: 'a2' });
    expect(await auditAfterCreation(ledger, 'account:a1')).toEqual([]);

    const changed = await ledger.changeAccountKey(change('a1', 't1', 't3'));
    expect(changed).toMatchObject({ outcome: 'changed', account: { id: 'a1', keyThumbprint: 't3', jwk: { kty: 'OKP', x: 't3' } } });
    expect(await ledger.getAccountByThumbprint('t1')).toBeUndefined();
    expect((await ledger.getAccountByThumbprint('t3'))?.id).toBe('a1');
    expect(await auditAfterCreation(ledger, 'account:a1')).toMatchObject([
      { action: 'account-key-change', actor: 'account:a1', detail: { oldKeyThumbprint: 't1', newKeyThumbprint: 't3' } },
    ]);
    // The freed key can be registered again by a new account.
    expect((await newAccount('a3', 't1')).created).toBe(true);
  });

  it('deactivates an account with its pending authorizations (not its valid ones), once', async () => {
    await newAccount('a1', 't1');
    await newAccount('a2', 't2');
    await ledger.createOrder(
      { id: 'o1', accountId: 'a1', identifiers: [], notBefore: undefined, notAfter: undefined, expires: new Date(now.getTime() + DAY), createdAt: now, authorizationIds: ['z1', 'z2'] },
      [authz('z1', 'a1', 'one.test'), authz('z2', 'a1', 'two.test')],
    );
    await ledger.createOrder(
      { id: 'o2', accountId: 'a2', identifiers: [], notBefore: undefined, notAfter: undefined, expires: new Date(now.getTime() + DAY), createdAt: now, authorizationIds: ['z3'] },
      [authz('z3', 'a2', 'three.test')],
    );
    await validateChallenge(ledger, 'z2', { validatedAt: now, expires: new Date(now.getTime() + DAY) });

    const result = await ledger.deactivateAccount({ accountId: 'a1', at: now, actor: 'operator:alice', contact: ['mailto:gone@example.com'] });
    expect(result).toMatchObject({ account: { status: 'deactivated', contact: ['mailto:gone@example.com'] }, deactivatedAuthorizations: 1 });
    expect((await ledger.getAuthorizations(['z1', 'z2', 'z3'])).map((a) => a.status)).toEqual(['deactivated', 'valid', 'pending']);
    expect(await ledger.deactivateAccount({ accountId: 'a1', at: now, actor: 'operator:alice' })).toBeUndefined();
    expect(await ledger.deactivateAccount({ accountId: 'nobody', at: now, actor: 'operator:alice' })).toBeUndefined();
    expect(await auditAfterCreation(ledger, 'account:a1')).toMatchObject([
      { action: 'account-deactivate', actor: 'operator:alice', detail: { deactivatedAuthorizations: 1 } },
    ]);
    // A deactivated account's key cannot be changed.
    expect(await ledger.changeAccountKey(change('a1', 't1', 't9'))).toEqual({ outcome: 'stale' });
  });

  it('deactivates an unexpired pending or valid authorization once', async () => {
    await newAccount('a1', 't1');
    await ledger.createOrder(
      { id: 'o1', accountId: 'a1', identifiers: [], notBefore: undefined, notAfter: undefined, expires: new Date(now.getTime() + DAY), createdAt: now, authorizationIds: ['z1', 'z2'] },
      [authz('z1', 'a1', 'one.test'), authz('z2', 'a1', 'two.test')],
    );
    const d = (id: string, at: Date) => ledger.deactivateAuthorization({ authorizationId: id, at, actor: 'account:a1' });
    expect(await d('z1', new Date(now.getTime() + 2 * DAY))).toBe(false); // expired by then
    expect(await d('z1', now)).toBe(true);
    expect(await d('z1', now)).toBe(false);
    expect(await d('missing', now)).toBe(false);
    expect((await ledger.getAuthorization('z1'))?.status).toBe('deactivated');
    expect((await ledger.getAuthorization('z2'))?.status).toBe('pending');
    expect(await auditAfterCreation(ledger, 'authorization:z1')).toHaveLength(1);
  });

  it('lists accounts with their certificate counts', async () => {
    await newAccount('a1', 't1');
    await newAccount('a2', 't2');
    expect((await ledger.listAccounts(10)).map((a) => [a.id, a.certificates])).toEqual([['a1', 0], ['a2', 0]]);
    expect(await ledger.listAccounts(1)).toHaveLength(1);
    expect(await ledger.getAccountSummary('a2')).toMatchObject({ id: 'a2', status: 'valid', certificates: 0 });
    expect(await ledger.getAccountSummary('nobody')).toBeUndefined();
  });
});
