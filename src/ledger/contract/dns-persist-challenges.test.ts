import { expect, it } from 'vitest';
import type { ChallengeType } from '../../core/status.js';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, authorizationRecord, validateChallenge } from '../../../test/support/ledger-records.js';

// Migration 0024 admits dns-persist-01 (token ''); both backends keep it, list it after the other
// types whatever the insertion order, and record its validation.
const now = new Date('2026-01-01T00:00:00Z');

describeLedger('dns-persist-01 challenges', (backend) => {
  it('are stored without a token, listed last, and validated like the others', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    const base = authorizationRecord('z1', 'a1', 'persist.example', now);
    const types: ChallengeType[] = ['dns-persist-01', 'tls-alpn-01', 'http-01', 'dns-01'];
    const challenges = types.map((type, i) => ({ ...base.challenges[0]!, id: `z1-${i}`, type, token: type === 'dns-persist-01' ? '' : `tok-${i}` }));
    await ledger.createOrder(
      { id: 'o1', accountId: 'a1', identifiers: [{ type: 'dns', value: 'persist.example' }], notBefore: undefined, notAfter: undefined, expires: new Date(now.getTime() + 3_600_000), createdAt: now, authorizationIds: ['z1'] },
      [{ ...base, challenges }],
    );
    const stored = await ledger.getAuthorization('z1');
    const order = backend.name === 'postgres' ? ['http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01'] : types;
    expect(stored?.challenges.map((c) => c.type)).toEqual(order);
    expect(stored?.challenges.find((c) => c.type === 'dns-persist-01')?.token).toBe('');

    await validateChallenge(ledger, 'z1', { challengeId: 'z1-0', validatedAt: now, expires: new Date(now.getTime() + 86_400_000) });
    const valid = await ledger.getAuthorization('z1');
    expect(valid?.challenges.find((c) => c.status === 'valid')?.type).toBe('dns-persist-01');
  });
});
