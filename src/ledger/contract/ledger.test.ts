import { expect, it } from 'vitest';
import { serialsOf } from '../../core/revoked-columns.js';
import type { CertificateLedger } from '../ledger.js';
import { describeLedger, type LedgerTable } from '../../../test/support/ledger-backends.js';
import { accountRecord, accountWithOrder, authorizationRecord, auditAfterCreation, validateChallenge } from '../../../test/support/ledger-records.js';

const now = new Date('2026-01-01T00:00:00Z');
/** The CRL builder's lease every claim here takes: one holder, running well past the test's `now`. */
const lease = { holder: 'contract-test', now, until: new Date(now.getTime() + 60_000) };

const account = (id: string, thumb: string) => accountRecord(id, thumb, now);

const authz = (id: string, accountId: string, value: string) => authorizationRecord(id, accountId, value, now);

/** The authorization's http-01 challenge validated: the authorization valid for 30 days from `now`. */
const validate = (ledger: CertificateLedger, authorizationId: string) =>
  validateChallenge(ledger, authorizationId, { validatedAt: now, expires: new Date(now.getTime() + 30 * 86_400_000) });

/** Account a1 with order o1 for a.example, its one authorization z1 valid: ready to finalize. */
async function readyOrder(ledger: CertificateLedger): Promise<CertificateLedger> {
  await accountWithOrder(ledger, now);
  await validate(ledger, 'z1');
  return ledger;
}

describeLedger('the ledger', (backend) => {
  it('creates an account once per key and returns the existing one after', async () => {
    const ledger = await backend.open();
    const first = await ledger.createAccount(account('a1', 't1'));
    expect(first.created).toBe(true);
    const again = await ledger.createAccount(account('a2', 't1'));
    expect(again.created).toBe(false);
    expect(again.account.id).toBe('a1');
    expect(await ledger.getAccount('a2')).toBeUndefined();
  });

  it('stores an order with its authorizations in order and reuses valid ones', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(account('a1', 't1'));
    const az = [authz('z1', 'a1', 'b.example'), authz('z2', 'a1', 'a.example')];
    await ledger.createOrder(
      {
        id: 'o1',
        accountId: 'a1',
        identifiers: [{ type: 'dns', value: 'b.example' }, { type: 'dns', value: 'a.example' }],
        notBefore: undefined,
        notAfter: undefined,
        expires: new Date(now.getTime() + 3_600_000),
        createdAt: now,
        authorizationIds: ['z1', 'z2'],
      },
      az,
    );
    const order = await ledger.getOrder('o1');
    expect(order?.authorizationIds).toEqual(['z1', 'z2']);
    expect(order?.status).toBe('pending');
    expect(await ledger.beginChallenge('z1-c')).toBe(true);
    expect(await ledger.beginChallenge('z1-c')).toBe(false);
    await ledger.completeChallenge({
      challengeId: 'z1-c',
      authorizationId: 'z1',
      challengeStatus: 'valid',
      authorizationStatus: 'valid',
      validatedAt: now,
      authorizationExpires: new Date(now.getTime() + 30 * 86_400_000),
      error: undefined,
    });
    const reusable = await ledger.findReusableAuthorizations('a1', [{ type: 'dns', value: 'b.example' }], now);
    expect(reusable.map((a) => [a.id, a.status])).toEqual([['z1', 'valid']]);
    expect(await ledger.findReusableAuthorizations('other', [{ type: 'dns', value: 'b.example' }], now)).toEqual([]);
  });

  it('gives an abandoned finalize back (processing → pending, finalizable again), and only its own', async () => {
    const ledger = await readyOrder(await backend.open());
    expect(await ledger.beginFinalize('o1')).toBe(true);
    await ledger.abandonFinalize('o1');
    expect((await ledger.getOrder('o1'))?.status).toBe('pending');
    expect((await ledger.interruptedWork()).orderIds).toEqual([]);
    expect(await ledger.beginFinalize('o1')).toBe(true);
    // A restarted process does not give back the work of the one before (recovery fails that).
    const restarted = await backend.reopen();
    await restarted.abandonFinalize('o1');
    expect((await restarted.getOrder('o1'))?.status).toBe('processing');
  });

  it('commits a certificate and the order state together, and never twice', async () => {
    const ledger = await readyOrder(await backend.open());
    expect(await ledger.beginFinalize('o1')).toBe(true);
    expect(await ledger.beginFinalize('o1')).toBe(false);
    const cert = {
      serial: '01ab',
      accountId: 'a1',
      orderId: 'o1',
      der: new Uint8Array([1, 2, 3]),
      chainPem: 'chain',
      identifiers: [{ type: 'dns' as const, value: 'a.example' }],
      commonName: 'a.example',
      keyHash: 'k',
      notBefore: now,
      notAfter: new Date(now.getTime() + 1000),
      createdAt: now,
    };
    expect(await ledger.completeFinalize('o1', cert, now)).toEqual({ outcome: 'issued' });
    expect((await ledger.getOrder('o1'))?.status).toBe('valid');
    expect((await ledger.getCertificate('01ab'))?.der).toEqual(new Uint8Array([1, 2, 3]));
    // A duplicate serial is refused and leaves nothing behind.
    const tables: LedgerTable[] = ['certificates', 'certificate_identifiers', 'audit_log'];
    const rows = async () => Promise.all(tables.map((t) => backend.rawCount(t)));
    const before = await rows();
    await expect(ledger.insertCertificate({ ...cert, orderId: undefined, accountId: undefined })).rejects.toThrow(backend.refusal.unique);
    expect(await rows()).toEqual(before);
  });

  it('issues single-use nonces', async () => {
    const ledger = await backend.open();
    const n = await ledger.nonces.issue();
    expect(await ledger.nonces.consume(n)).toBe(true);
    expect(await ledger.nonces.consume(n)).toBe(false);
    expect(await ledger.nonces.consume('never-issued')).toBe(false);
  });

  it('hands out strictly increasing CRL numbers that survive a restart, and keeps the newest CRL', async () => {
    let ledger = await backend.open();
    expect((await ledger.crlState('intermediate', now)).dirty).toBe(true); // never signed yet
    const first = await ledger.claimCrlNumber('intermediate', lease);
    const second = await ledger.claimCrlNumber('intermediate', lease);
    expect(second).toBe(first! + 1n);
    expect((await ledger.crlState('intermediate', now)).dirty).toBe(false);
    const at = new Date('2026-01-01T00:00:00Z');
    await ledger.recordCrl('intermediate', { crlNumber: second!, thisUpdate: at, nextUpdate: at, der: new Uint8Array([2]) });
    // A slower build that claimed the older number finishes last: it must not replace the newer CRL.
    await ledger.recordCrl('intermediate', { crlNumber: first!, thisUpdate: at, nextUpdate: at, der: new Uint8Array([1]) });
    expect((await ledger.crlState('intermediate', now)).der).toEqual(new Uint8Array([2]));
    ledger = await backend.reopen();
    expect(await ledger.claimCrlNumber('intermediate', lease)).toBe(second! + 1n);
    expect(await ledger.claimCrlNumber('root', lease)).toBe(1n);
  });

  it('marks the CRL stale in the same transaction as a revocation, and lists revoked until expiry', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(account('a1', 't1'));
    const base = {
      accountId: 'a1', orderId: undefined, der: new Uint8Array([1]), chainPem: '', commonName: undefined, createdAt: now,
      identifiers: [{ type: 'dns' as const, value: 'a.example' }], notBefore: now,
    };
    await ledger.insertCertificate({ ...base, serial: '0a', keyHash: 'k1', notAfter: new Date(now.getTime() + 1000) });
    await ledger.insertCertificate({ ...base, serial: '0b', keyHash: 'k2', notAfter: new Date(now.getTime() + 9000) });
    await ledger.claimCrlNumber('intermediate', lease);
    expect((await ledger.crlState('intermediate', now)).dirty).toBe(false);
    for (const serial of ['0a', '0b']) {
      expect(await ledger.revokeCertificate({ serial, reason: 1, revokedAt: now, blockKey: serial === '0b', actor: 'test' })).toBe('revoked');
    }
    expect((await ledger.crlState('intermediate', now)).dirty).toBe(true);
    expect(await ledger.isKeyBlocked('k2')).toBe(true);
    expect(await ledger.isKeyBlocked('k1')).toBe(false);
    const columns = await ledger.listRevokedUnexpired(now, 1);
    expect(serialsOf(columns)).toEqual(['0a', '0b']);
    expect([...columns.reasons]).toEqual([1, 1]);
    expect([...columns.revokedAtMs]).toEqual([now.getTime(), now.getTime()]);
    // RFC 5280 §5: an entry may leave the CRL once the certificate has expired.
    expect(serialsOf(await ledger.listRevokedUnexpired(new Date(now.getTime() + 5000), 1))).toEqual(['0b']);
    expect(await ledger.revokeCertificate({ serial: '0a', reason: 1, revokedAt: now, blockKey: false, actor: 'test' })).toBe('alreadyRevoked');
    expect(await ledger.revokeCertificate({ serial: 'ff', reason: 1, revokedAt: now, blockKey: false, actor: 'test' })).toBe('unknown');
    expect(await auditAfterCreation(ledger, '0a')).toHaveLength(1);
  });
  it('commits a certificate only while its order, authorizations, account and key still allow it, else writes nothing', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(account('a1', 't1'));
    /** An order of a1 for `name`, its authorization validated and its finalize begun. */
    const begun = async (id: string, name: string) => {
      await ledger.createOrder(
        { id, accountId: 'a1', identifiers: [{ type: 'dns', value: name }], notBefore: undefined, notAfter: undefined,
          expires: new Date(now.getTime() + 3_600_000), createdAt: now, authorizationIds: [`${id}-z`] },
        [authz(`${id}-z`, 'a1', name)],
      );
      await validate(ledger, `${id}-z`);
      expect(await ledger.beginFinalize(id)).toBe(true);
    };
    const cert = (serial: string, orderId: string, keyHash = serial) => ({
      serial, accountId: 'a1', orderId, der: new Uint8Array([1]), chainPem: '', identifiers: [], commonName: undefined, keyHash,
      notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), createdAt: now,
    });
    const tables: LedgerTable[] = ['certificates', 'certificate_identifiers', 'audit_log'];
    const rows = async () => Promise.all(tables.map((t) => backend.rawCount(t)));

    await begun('o-deactivated', 'deactivated.example');
    expect(await ledger.deactivateAuthorization({ authorizationId: 'o-deactivated-z', at: now, actor: 'account:a1' })).toBe(true);
    let before = await rows();
    expect(await ledger.completeFinalize('o-deactivated', cert('c1', 'o-deactivated'), now)).toEqual({
      outcome: 'authorizationNotValid', identifier: { type: 'dns', value: 'deactivated.example' }, status: 'deactivated',
    });
    expect(await rows()).toEqual(before);
    expect((await ledger.getOrder('o-deactivated'))?.status).toBe('processing');

    // Valid for 30 days from now: 30 days later it has expired.
    await begun('o-expired', 'expired.example');
    expect(await ledger.completeFinalize('o-expired', cert('c2', 'o-expired'), new Date(now.getTime() + 30 * 86_400_000))).toMatchObject({
      outcome: 'authorizationNotValid', status: 'expired',
    });

    await begun('o-key', 'key.example');
    await ledger.insertCertificate({ ...cert('c-old', 'o-key', 'compromised'), orderId: undefined });
    expect(await ledger.revokeCertificate({ serial: 'c-old', reason: 1, revokedAt: now, blockKey: true, actor: 'certificate-key' })).toBe('revoked');
    before = await rows();
    expect(await ledger.completeFinalize('o-key', cert('c3', 'o-key', 'compromised'), now)).toEqual({ outcome: 'keyBlocked' });
    expect(await rows()).toEqual(before);

    await begun('o-failed', 'failed.example');
    await ledger.failOrder('o-failed', { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'interrupted', status: 500 });
    expect(await ledger.completeFinalize('o-failed', cert('c4', 'o-failed'), now)).toEqual({ outcome: 'orderNotProcessing', status: 'invalid' });

    await begun('o-account', 'account.example');
    expect(await ledger.deactivateAccount({ accountId: 'a1', at: now, actor: 'account:a1' })).toBeDefined();
    before = await rows();
    expect(await ledger.completeFinalize('o-account', cert('c5', 'o-account'), now)).toEqual({ outcome: 'accountNotValid', status: 'deactivated' });
    expect(await rows()).toEqual(before);
    for (const serial of ['c1', 'c2', 'c3', 'c4', 'c5']) expect(await ledger.getCertificate(serial)).toBeUndefined();
  });

  it('validates one challenge of an authorization at a time, and never overturns its outcome', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(account('a1', 't1'));
    const twoChallenges = (id: string, value: string) => {
      const a = authz(id, 'a1', value);
      const dns = { ...a.challenges[0]!, id: `${id}-d`, type: 'dns-01' as const, token: `tok-${id}-d` };
      return { ...a, challenges: [...a.challenges, dns] };
    };
    await ledger.createOrder(
      { id: 'o1', accountId: 'a1', identifiers: [], notBefore: undefined, notAfter: undefined,
        expires: new Date(now.getTime() + 3_600_000), createdAt: now, authorizationIds: ['z1', 'z2'] },
      [twoChallenges('z1', 'one.example'), twoChallenges('z2', 'two.example')],
    );
    const outcome = (challengeId: string, authorizationId: string, status: 'valid' | 'invalid') =>
      ledger.completeChallenge({
        challengeId, authorizationId, challengeStatus: status, authorizationStatus: status, validatedAt: now,
        authorizationExpires: new Date(now.getTime() + 86_400_000),
        error: status === 'invalid' ? { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'no', status: 403 } : undefined,
      });
    const statuses = async (id: string) => {
      const a = (await ledger.getAuthorization(id))!;
      return [a.status, ...a.challenges.map((c) => `${c.type} ${c.status}`)];
    };

    expect(await ledger.beginChallenge('z1-c')).toBe(true);
    // Its sibling does not begin while it runs: one outcome per authorization (RFC 8555 §7.1.6).
    expect(await ledger.beginChallenge('z1-d')).toBe(false);
    // True: the challenge took the outcome (ra/ answers with it, without reading it back).
    expect(await outcome('z1-c', 'z1', 'valid')).toBe(true);
    expect(await ledger.beginChallenge('z1-d')).toBe(false);
    // An outcome for a challenge that is not processing changes nothing, and says so.
    expect(await outcome('z1-d', 'z1', 'invalid')).toBe(false);
    expect(await statuses('z1')).toEqual(['valid', 'http-01 valid', 'dns-01 pending']);

    // Deactivated while its challenge was validated: it stays deactivated, the challenge keeps its outcome.
    expect(await ledger.beginChallenge('z2-d')).toBe(true);
    expect(await ledger.deactivateAuthorization({ authorizationId: 'z2', at: now, actor: 'account:a1' })).toBe(true);
    expect(await outcome('z2-d', 'z2', 'valid')).toBe(true);
    expect(await statuses('z2')).toEqual(['deactivated', 'http-01 pending', 'dns-01 valid']);
    // A challenge's authorization, read by the challenge: the same record as by its own id.
    expect(await ledger.getAuthorizationOfChallenge('z2-d')).toEqual(await ledger.getAuthorization('z2'));
    expect(await ledger.getAuthorizationOfChallenge('z1-c')).toEqual(await ledger.getAuthorization('z1'));
    expect(await ledger.getAuthorizationOfChallenge('no-such-challenge')).toBeUndefined();
  });
});
