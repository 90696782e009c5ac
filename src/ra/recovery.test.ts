import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

const idOf = (url: string) => url.split('/').pop()!;

describe('start-up after a process stopped in the middle of work', () => {
  it('fails orders caught in finalize (retryable), validates challenges caught in validation again, and leaves the rest', async () => {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);

    // The process that stopped: another connection to the same ledger file, which begins work and is gone.
    const stopped = new SqliteLedger({ file: path.join(t.dir, 'ledger.sqlite3') });

    // A finalize that began and never committed its certificate.
    const ready = await validateNames(t, client, ['finalizing.recovery.test']);
    const readyId = idOf(String(ready.finalize).replace(/\/finalize$/, ''));
    expect(await stopped.beginFinalize(readyId)).toBe(true);

    // A validation that began and never recorded its outcome.
    const pending = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'validating.recovery.test' }] });
    const authzUrl = pending.json().authorizations[0] as string;
    const challenge = (await client.post(authzUrl, '')).json().challenges[0];
    t.responder.set(challenge.token, await client.keyAuthorization(challenge.token));
    expect(await stopped.beginChallenge(idOf(challenge.url))).toBe(true);
    await stopped.close();

    // Work this process began is in flight, not interrupted: recovery leaves it alone.
    const inFlight = await validateNames(t, client, ['in-flight.recovery.test']);
    const inFlightId = idOf(String(inFlight.finalize).replace(/\/finalize$/, ''));
    expect(await t.ledger.beginFinalize(inFlightId)).toBe(true);

    // An untouched pending order stays as it is.
    const untouched = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'untouched.recovery.test' }] });

    expect(await t.ra.recoverInterruptedWork()).toEqual({ failedOrders: 1, revalidating: 1 });
    await t.ra.settled();

    const failed = (await client.post(String(ready.finalize).replace(/\/finalize$/, ''), '')).json();
    expect(failed).toMatchObject({ status: 'invalid', error: { type: 'urn:ietf:params:acme:error:serverInternal', detail: expect.stringContaining('create a new order') } });
    expect((await client.post(authzUrl, '')).json()).toMatchObject({
      status: 'valid',
      challenges: expect.arrayContaining([expect.objectContaining({ type: 'http-01', status: 'valid' })]),
    });
    expect((await client.post(String(untouched.headers.location), '')).json().status).toBe('pending');
    expect((await t.ledger.getOrder(inFlightId))?.status).toBe('processing');

    // The retry the error asks for: a new order for the same name is ready at once (authorization reused).
    const retry = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'finalizing.recovery.test' }] });
    expect(retry.json().status).toBe('ready');

    // Nothing left to recover.
    expect(await t.ra.recoverInterruptedWork()).toEqual({ failedOrders: 0, revalidating: 0 });
  });
});

describe('start-up with many challenges caught in validation', () => {
  let bounded: TestAcmeApp;
  beforeAll(async () => {
    bounded = await startTestAcmeApp({ env: { CERTMINT_VALIDATION_MAX_CONCURRENT_PER_ACCOUNT: '2' } });
  });
  afterAll(async () => bounded?.close());

  it('validates them again within validation.maxConcurrentPerAccount, not all at once (issue 20)', async () => {
    const client = new InjectAcmeClient(bounded.app, bounded.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);
    const stopped = new SqliteLedger({ file: path.join(bounded.dir, 'ledger.sqlite3') });
    const names = Array.from({ length: 6 }, (_, i) => `v${i}.recovery.test`);
    const created = await client.post(`${bounded.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
    const authzUrls = created.json().authorizations as string[];
    for (const authzUrl of authzUrls) {
      const challenge = (await client.post(authzUrl, '')).json().challenges.find((c: { type: string }) => c.type === 'http-01');
      bounded.responder.set(challenge.token, await client.keyAuthorization(challenge.token));
      expect(await stopped.beginChallenge(idOf(challenge.url))).toBe(true);
    }
    await stopped.close();

    // The responder holds its answers: the validations started stay running until released.
    const release = bounded.responder.hold();
    expect(await bounded.ra.recoverInterruptedWork()).toEqual({ failedOrders: 0, revalidating: 6 });
    const { validations } = bounded.ra.deps;
    expect([validations.runningCount, validations.waitingCount]).toEqual([2, 4]);
    release();
    await bounded.ra.settled();
    for (const authzUrl of authzUrls) expect((await client.post(authzUrl, '')).json().status).toBe('valid');
  });
});
