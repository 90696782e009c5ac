import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { startFaultyDnsServer, type FaultyDnsServer } from '../../test/support/dns-responders.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

// Issue 20, point 1: validations are bounded per account (validation.maxConcurrentPerAccount) and
// in total (validation.maxConcurrent). A challenge POST beyond a bound is not started: it is
// answered at once, `processing` with Retry-After, and its validation starts when a slot frees
// (free slots go to accounts in turn). Hostile accounts ask for names whose DNS never answers,
// each holding its slot for validation.timeout; an honest account is served meanwhile.

const TIMEOUT_MS = 4_000;
const PER_ACCOUNT = 20;
const TOTAL = 30;
const HOSTILE_POSTS = 40;
/**
 * Only a hang guard for the polling below. Whether the honest account was served in time is read
 * from the order of events (how many hostile validations had started by then), not from a clock:
 * measured at a few ms with a free slot, about one validation.timeout when every slot is taken.
 */
const HANG_GUARD_MS = 20_000;
const ERR = 'urn:ietf:params:acme:error:';

type Authz = { status: string; challenges: { type: string; url: string; token: string; status: string; error?: { type: string; detail: string } }[] };

async function clientOf(t: TestAcmeApp): Promise<InjectAcmeClient> {
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await client.register()).statusCode).toBe(201);
  return client;
}

/** One order for `names`; the http-01 challenge of each, its key authorization served by the test's responder. */
async function http01Challenges(t: TestAcmeApp, client: InjectAcmeClient, names: readonly string[]) {
  const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
  expect(res.statusCode).toBe(201);
  const out: { url: string; authzUrl: string }[] = [];
  for (const authzUrl of res.json().authorizations as string[]) {
    const authz = (await client.post(authzUrl, '')).json() as Authz;
    const ch = authz.challenges.find((c) => c.type === 'http-01')!;
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    out.push({ url: ch.url, authzUrl });
  }
  return out;
}

/** The client says "ready" for every challenge at once; the answers, in order. */
async function answerAll(client: InjectAcmeClient, challenges: readonly { url: string }[]) {
  const answers = await Promise.all(challenges.map((ch) => client.post(ch.url, {})));
  return answers.map((res) => ({ status: res.statusCode, challenge: res.json().status as string, retryAfter: res.headers['retry-after'] }));
}

/** Polls the authorization until it is valid or invalid, as ACME clients do; ms from `started`, and `seen()` then. */
async function settledWithin<T>(client: InjectAcmeClient, authzUrl: string, started: number, seen: () => T): Promise<{ status: string; ms: number; seen: T }> {
  for (;;) {
    const authz = (await client.post(authzUrl, '')).json() as Authz;
    if (authz.status !== 'pending') return { status: authz.status, ms: performance.now() - started, seen: seen() };
    if (performance.now() - started > HANG_GUARD_MS) return { status: `${authz.status} after the ${HANG_GUARD_MS} ms hang guard`, ms: performance.now() - started, seen: seen() };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('validation bounds: one account cannot take every validation slot (issue 20)', () => {
  let t: TestAcmeApp;
  let dns: FaultyDnsServer;
  const silentAsked = (): number => [...dns.asked].filter((n) => n.endsWith('.silent.test')).length;

  beforeAll(async () => {
    dns = await startFaultyDnsServer({ silentSuffix: '.silent.test', slowSuffix: '.slow.test', slowMs: 0 });
    t = await startTestAcmeApp({
      validationTimeoutMs: TIMEOUT_MS,
      env: {
        CERTMINT_VALIDATION_DNS_RESOLVERS: dns.address,
        CERTMINT_VALIDATION_ANSWER_WITHIN: '200ms',
        CERTMINT_VALIDATION_MAX_CONCURRENT: String(TOTAL),
        CERTMINT_VALIDATION_MAX_CONCURRENT_PER_ACCOUNT: String(PER_ACCOUNT),
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.stop();
  });

  it('starts an account\'s validations up to its bound and answers the rest processing + Retry-After; others are served meanwhile; every one finishes', async () => {
    const hostileA = await clientOf(t);
    const hostileB = await clientOf(t);
    const honest = await clientOf(t);
    const names = (who: string) => Array.from({ length: HOSTILE_POSTS }, (_, i) => `${who}${i}.silent.test`);
    const a = await http01Challenges(t, hostileA, names('a'));
    const b = await http01Challenges(t, hostileB, names('b'));
    const [honest1, honest2] = await http01Challenges(t, honest, ['one.honest.test', 'two.honest.test']);

    // Account A: 40 POSTs, 20 validations started (their names asked of DNS), 20 waiting.
    const answersA = await answerAll(hostileA, a);
    expect(answersA.every((r) => r.status === 200 && r.challenge === 'processing' && r.retryAfter === '1'), JSON.stringify(answersA)).toBe(true);
    expect(silentAsked()).toBe(PER_ACCOUNT);
    expect([t.ra.deps.validations.runningCount, t.ra.deps.validations.waitingCount]).toEqual([PER_ACCOUNT, HOSTILE_POSTS - PER_ACCOUNT]);

    // An honest account has slots of its own: validated at once, while A's hold theirs.
    let started = performance.now();
    const first = (await honest.post(honest1!.url, {})).json();
    const honestFreeSlotMs = performance.now() - started;
    expect(first.status).toBe('valid');
    // ... while A's still hold theirs: none of them ended, or one of A's waiting 20 would have started.
    expect(t.ra.deps.validations.waitingCount).toBe(HOSTILE_POSTS - PER_ACCOUNT);

    // Account B: the total bound (30) leaves it 10; the other 30 wait.
    const answersB = await answerAll(hostileB, b);
    expect(answersB.every((r) => r.status === 200 && r.challenge === 'processing' && r.retryAfter === '1'), JSON.stringify(answersB)).toBe(true);
    expect(silentAsked()).toBe(TOTAL);
    expect([t.ra.deps.validations.runningCount, t.ra.deps.validations.waitingCount]).toEqual([TOTAL, 2 * HOSTILE_POSTS - TOTAL]);

    // Every slot taken: the honest POST is answered processing at once and waits its turn, which
    // comes with the first slots to free (in turn with A and B, not after their backlogs).
    started = performance.now();
    const second = await honest.post(honest2!.url, {});
    expect(second.json().status).toBe('processing');
    expect(second.headers['retry-after']).toBe('1');
    const settled = await settledWithin(honest, honest2!.authzUrl, started, silentAsked);
    expect(settled.status).toBe('valid');
    // Its turn came with the first slots to free (in turn with A and B), so fewer than two full
    // houses of hostile names had been asked of DNS by then; had it waited behind A's backlog for
    // a second round of free slots, at least 60 would have been.
    expect(settled.seen).toBeLessThan(2 * TOTAL);
    console.log(`honest validation: ${honestFreeSlotMs.toFixed(0)} ms with a slot free; ${settled.ms.toFixed(0)} ms queued behind a full house (validation.timeout ${TIMEOUT_MS} ms)`);

    // Every hostile validation started in the end, and every one finished with the RFC problem.
    await t.ra.settled();
    expect(silentAsked()).toBe(2 * HOSTILE_POSTS);
    expect([t.ra.deps.validations.runningCount, t.ra.deps.validations.waitingCount]).toEqual([0, 0]);
    for (const [client, challenges] of [[hostileA, a], [hostileB, b]] as const) {
      for (const ch of challenges) {
        const authz = (await client.post(ch.authzUrl, '')).json() as Authz;
        expect(authz.status).toBe('invalid');
        const http01 = authz.challenges.find((c) => c.type === 'http-01')!;
        expect(http01.status).toBe('invalid');
        expect(http01.error?.type).toBe(`${ERR}dns`);
        expect(http01.error?.detail).toMatch(/^DNS problem: query timed out looking up A{1,4} for [ab]\d+\.silent\.test$/);
      }
    }
  });
});
