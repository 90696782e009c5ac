import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { registeredClient, type InjectAcmeClient } from '../../test/support/jws-client.js';
import { POLL_RETRY_AFTER_SECONDS } from './retry-after.js';

// Issue 21, a rough edge: a client polling a resource that is not final waits its own default
// (up to 10 s) when the answer has no Retry-After. Every answer for a pending or processing
// challenge, a pending authorization and a pending or processing order carries one; final states
// and a ready order (the client must finalize, not wait) carry none.

const WAIT = String(POLL_RETRY_AFTER_SECONDS);

type Answer = Awaited<ReturnType<InjectAcmeClient['post']>>;
/** What a polling client sees: the resource's status and the Retry-After beside it (null: none). */
const seen = (res: Answer) => ({ status: res.json<{ status: string }>().status, retryAfter: res.headers['retry-after'] ?? null });

let t: TestAcmeApp;
beforeAll(async () => {
  // A held validation is answered processing after 300 ms instead of the default's seconds.
  t = await startTestAcmeApp({ validationTimeoutMs: 5000, env: { CERTMINT_VALIDATION_ANSWER_WITHIN: '300ms' } });
});
afterAll(async () => t?.close());

const clientOf = (): Promise<InjectAcmeClient> => registeredClient(t);

/** newOrder for one name; its answer, URLs and the http-01 challenge of its authorization. */
async function orderFor(client: InjectAcmeClient, name: string) {
  const created = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: name }] });
  expect(created.statusCode).toBe(201);
  const order = created.json<{ authorizations: string[]; finalize: string }>();
  const authzUrl = order.authorizations[0]!;
  const authz = (await client.post(authzUrl, '')).json<{ challenges: { type: string; url: string; token: string }[] }>();
  const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
  return { created, orderUrl: String(created.headers.location), authzUrl, finalizeUrl: order.finalize, challenge };
}

describe('Retry-After wherever a resource is not final (issue 21)', () => {
  it('pending: newOrder, the order, its authorization and a challenge not yet answered', async () => {
    const client = await clientOf();
    const o = await orderFor(client, 'pending.retry.test');
    expect(seen(o.created)).toEqual({ status: 'pending', retryAfter: WAIT });
    expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'pending', retryAfter: WAIT });
    expect(seen(await client.post(o.authzUrl, ''))).toEqual({ status: 'pending', retryAfter: WAIT });
    expect(seen(await client.post(o.challenge.url, ''))).toEqual({ status: 'pending', retryAfter: WAIT });
  });

  it('processing: a challenge still validating (its authorization and order stay pending), and an order being finalized', async () => {
    const client = await clientOf();
    const o = await orderFor(client, 'processing.retry.test');
    t.responder.set(o.challenge.token, await client.keyAuthorization(o.challenge.token));
    const release = t.responder.hold();
    try {
      expect(seen(await client.post(o.challenge.url, {}))).toEqual({ status: 'processing', retryAfter: WAIT });
      expect(seen(await client.post(o.challenge.url, ''))).toEqual({ status: 'processing', retryAfter: WAIT });
      expect(seen(await client.post(o.authzUrl, ''))).toEqual({ status: 'pending', retryAfter: WAIT });
      expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'pending', retryAfter: WAIT });
    } finally {
      release();
    }
    await t.ra.settled();
    expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'ready', retryAfter: null });
    // Finalize begun and its certificate not yet committed, as another instance's finalize leaves it.
    expect(await t.ledger.beginFinalize(o.orderUrl.split('/').at(-1)!)).toBe(true);
    expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'processing', retryAfter: WAIT });
  });

  it('none once final, nor on a ready order: valid challenge, authorization and order; the finalize answer', async () => {
    const client = await clientOf();
    const o = await orderFor(client, 'valid.retry.test');
    t.responder.set(o.challenge.token, await client.keyAuthorization(o.challenge.token));
    expect(seen(await client.post(o.challenge.url, {}))).toEqual({ status: 'valid', retryAfter: null });
    expect(seen(await client.post(o.authzUrl, ''))).toEqual({ status: 'valid', retryAfter: null });
    expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'ready', retryAfter: null });
    const { der } = await makeCsr(['valid.retry.test']);
    const finalized = await client.post(o.finalizeUrl, { csr: Buffer.from(der).toString('base64url') });
    expect(seen(finalized)).toEqual({ status: 'valid', retryAfter: null });
    expect(seen(await client.post(o.orderUrl, ''))).toEqual({ status: 'valid', retryAfter: null });
  });

  it('none once final: an invalid challenge, authorization and order; a deactivated authorization', async () => {
    const client = await clientOf();
    // No key authorization served: the responder answers 404 and the validation fails.
    const failed = await orderFor(client, 'invalid.retry.test');
    expect(seen(await client.post(failed.challenge.url, {}))).toEqual({ status: 'invalid', retryAfter: null });
    expect(seen(await client.post(failed.authzUrl, ''))).toEqual({ status: 'invalid', retryAfter: null });
    expect(seen(await client.post(failed.orderUrl, ''))).toEqual({ status: 'invalid', retryAfter: null });

    const given = await orderFor(client, 'deactivated.retry.test');
    expect(seen(await client.post(given.authzUrl, { status: 'deactivated' }))).toEqual({ status: 'deactivated', retryAfter: null });
    expect(seen(await client.post(given.orderUrl, ''))).toEqual({ status: 'invalid', retryAfter: null });
  });
});
