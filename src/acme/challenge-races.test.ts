import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationRecord, ChallengeRecord } from '../ledger/records.js';
import type { InjectAcmeClient } from '../../test/support/jws-client.js';
import { after, raceBackends, startRaceApps, type RaceApps } from '../../test/support/race-apps.js';

// Issue 20, point 7. Two challenges of one authorization answered at once must not leave it
// inconsistent (RFC 8555 §7.1.6: a valid authorization has exactly one valid challenge, an
// invalid one none). One challenge of an authorization is validated at a time, and only a pending
// authorization takes an outcome: the first outcome decides. Here: http-01 held by the client's
// web server while dns-01 (no TXT record: it would fail) is answered, then both raced over many
// rounds through two connections (SQLite) or two pools (PostgreSQL). dns-01 is answered by b,
// http-01 by a: the two validations run on different ledger connections.

const ROUNDS = 24;
const idOf = (url: string) => url.split('/').pop()!;

const races = raceBackends();

/** RFC 8555 §7.1.6, as the ledger holds it: undefined when consistent, else what is wrong. */
function inconsistency(authz: AuthorizationRecord): string | undefined {
  const valid = authz.challenges.filter((c: ChallengeRecord) => c.status === 'valid').length;
  const processing = authz.challenges.filter((c: ChallengeRecord) => c.status === 'processing').length;
  const shown = `${authz.status} with ${authz.challenges.map((c) => `${c.type} ${c.status}`).join(', ')}`;
  if (processing > 0) return `still processing: ${shown}`;
  if (authz.status === 'valid' && valid !== 1) return shown;
  if (authz.status === 'invalid' && valid !== 0) return shown;
  if (authz.status === 'pending') return `never decided: ${shown}`;
  return undefined;
}

for (const { backend, skip } of races.list) {
  describe.skipIf(skip)(`two challenges of one authorization answered at once [${backend.name}]`, () => {
    let r: RaceApps;
    let onA: InjectAcmeClient;
    let onB: InjectAcmeClient;
    beforeAll(async () => {
      if (backend.name === 'postgres') await races.startCluster();
      // A challenge POST answers `processing` after 50 ms; its validation goes on in the background.
      r = await startRaceApps(backend, { env: { CERTMINT_VALIDATION_ANSWER_WITHIN: '50ms' } });
      ({ onA, onB } = await r.account());
    }, 120_000);
    afterAll(async () => r?.close());

    /** A new authorization for `name`: its URL and its http-01 (answered by a's responder) and dns-01 challenge URLs. */
    async function authorization(name: string) {
      const order = (await onA.post(`${r.a.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: name }] })).json();
      const authzUrl = String(order.authorizations[0]);
      const challenges = (await onA.post(authzUrl, '')).json().challenges as { type: string; url: string; token: string }[];
      const http = challenges.find((c) => c.type === 'http-01')!;
      const dns = challenges.find((c) => c.type === 'dns-01')!;
      r.a.responder.set(http.token, await onA.keyAuthorization(http.token));
      // dns-01 (validated by b) finds a TXT record that is not its digest: it fails at once.
      await r.b.dns.addTxt(`_acme-challenge.${name}`, 'not-the-digest');
      return { authzUrl, http: http.url, dns: dns.url };
    }

    async function stored(authzUrl: string): Promise<AuthorizationRecord> {
      await Promise.all([r.a.ra.settled(), r.b.ra.settled()]);
      return (await r.a.ledger.getAuthorization(idOf(authzUrl)))!;
    }

    it('while http-01 is being validated, dns-01 is not validated; the first outcome decides', async () => {
      const z = await authorization('held.challenge.race.test');
      const release = r.a.responder.hold();
      let dns;
      try {
        const http = await onA.post(z.http, {});
        expect(http.json()).toMatchObject({ type: 'http-01', status: 'processing' });
        dns = await onB.post(z.dns, {});
      } finally {
        release();
      }
      expect(dns.statusCode, dns.body).toBe(200);
      // Not begun: no second validation of the authorization while one runs.
      expect(dns.json()).toMatchObject({ type: 'dns-01', status: 'pending' });
      const authz = await stored(z.authzUrl);
      expect(inconsistency(authz)).toBeUndefined();
      expect(authz.status).toBe('valid');
      expect(authz.challenges.map((c) => [c.type, c.status])).toEqual(expect.arrayContaining([['http-01', 'valid'], ['dns-01', 'pending']]));
      // Once decided, a challenge answered later changes nothing.
      expect((await onB.post(z.dns, {})).json().status).toBe('pending');
      expect((await stored(z.authzUrl)).status).toBe('valid');
      expect((await onA.post(z.authzUrl, '')).json().status).toBe('valid');
    });

    it('a failed first outcome decides too: the authorization stays invalid, with no valid challenge', async () => {
      const z = await authorization('failed.challenge.race.test');
      const dns = await onB.post(z.dns, {});
      // Invalid, or still processing after 50 ms on a loaded machine: wait for its outcome.
      expect(['invalid', 'processing']).toContain(dns.json().status);
      await r.b.ra.settled();
      expect((await onB.post(z.dns, '')).json().status).toBe('invalid');
      const http = await onA.post(z.http, {});
      expect(http.json()).toMatchObject({ type: 'http-01', status: 'pending' });
      const authz = await stored(z.authzUrl);
      expect(authz.status).toBe('invalid');
      expect(inconsistency(authz)).toBeUndefined();
    });

    it(`${ROUNDS} rounds of http-01 (passes) and dns-01 (fails) answered at once: the authorization is consistent every round`, async () => {
      const inconsistent: string[] = [];
      const outcomes = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const z = await authorization(`r${round}.challenge.race.test`);
        const answers = await Promise.all([onA.post(z.http, {}), after(round % 12, () => onB.post(z.dns, {}))]);
        for (const a of answers) expect(a.statusCode, a.body).toBe(200);
        const authz = await stored(z.authzUrl);
        outcomes.add(authz.status);
        const wrong = inconsistency(authz);
        if (wrong) inconsistent.push(`round ${round}: ${wrong}`);
      }
      console.log(`[${backend.name}] ${inconsistent.length} of ${ROUNDS} rounds inconsistent; outcomes ${[...outcomes].join(', ')}\n${inconsistent.join('\n')}`);
      expect(inconsistent).toEqual([]);
    }, 120_000);
  });
}
