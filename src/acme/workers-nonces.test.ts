import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRaceApps, type RaceApps } from '../../test/support/race-apps.js';
import type { InjectAcmeClient } from '../../test/support/jws-client.js';

// server.workers > 1 (issue 27): the nonce rules of RFC 8555 §6.5 across worker processes. Two
// apps in this process on one SQLite file through two SqliteLedger connections opened as two
// workers open it (race-apps `sqlite-workers`): the nonce store, the JWS check and the ledger are
// the ones each worker runs; only the process boundary is missing (the IPC hop through the
// primary is an event-loop turn here; test/e2e/workers.test.ts crosses real processes), and the
// owner's spent set that decides is the same with or without it.

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';
let r: RaceApps;
let clients: readonly [InjectAcmeClient, InjectAcmeClient];

beforeAll(async () => {
  r = await startRaceApps({ name: 'sqlite-workers' });
  const { onA, onB } = await r.account();
  clients = [onA, onB];
}, 60_000);
afterAll(async () => r?.close());

/** POST-as-GET of the account with exactly this nonce, at worker `at`: accepted, or badNonce. */
async function spend(at: 0 | 1, nonce: string): Promise<'accepted' | 'badNonce'> {
  const client = clients[at];
  const res = await client.post(client.accountUrl!, '', { nonce });
  if (res.statusCode === 200) return 'accepted';
  expect(res.json<{ type: string }>().type, res.body).toBe(BAD_NONCE);
  return 'badNonce';
}

describe('nonces across two workers on one SQLite file', () => {
  it('any nonce, issued by either worker, is accepted exactly once whichever worker sees it, in any order', async () => {
    const worker = fc.constantFrom<0 | 1>(0, 1);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ issuer: worker, spends: fc.array(worker, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 6 }),
        async (plan) => {
          const nonces = await Promise.all(plan.map((p) => clients[p.issuer].freshNonce()));
          const outcomes = await Promise.all(plan.map(async (p, i) => Promise.all(p.spends.map((at) => spend(at, nonces[i]!)))));
          for (const o of outcomes) expect(o.filter((x) => x === 'accepted')).toHaveLength(1);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a nonce spent at both workers at the same moment is accepted by one of them', async () => {
    for (let round = 0; round < 30; round++) {
      const nonce = await clients[round % 2 as 0 | 1].freshNonce();
      const outcomes = await Promise.all([spend(0, nonce), spend(1, nonce), spend(0, nonce), spend(1, nonce)]);
      expect(outcomes.filter((x) => x === 'accepted'), `round ${round}`).toHaveLength(1);
    }
  });

  it('refuses a forged nonce, or one from a process outside this ledger, at both workers', async () => {
    const nonce = await clients[0].freshNonce();
    const forged = Buffer.from(nonce, 'base64url');
    forged[20]! ^= 1;
    const foreign = await startRaceApps({ name: 'sqlite' });
    try {
      const { onA } = await foreign.account();
      for (const bad of [forged.toString('base64url'), await onA.freshNonce()]) {
        expect(await spend(0, bad)).toBe('badNonce');
        expect(await spend(1, bad)).toBe('badNonce');
      }
    } finally {
      await foreign.close();
    }
    expect(await spend(1, nonce)).toBe('accepted');
  });
});
