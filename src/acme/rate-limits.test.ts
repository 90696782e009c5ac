import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

const ERR = 'urn:ietf:params:acme:error:';

describe('rate limits (config limits.*)', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp({
      env: {
        CERTMINT_LIMITS_NEW_ORDERS_PER_ACCOUNT_PER_HOUR: '3',
        CERTMINT_LIMITS_NEW_ACCOUNTS_PER_IP_PER_HOUR: '4',
        CERTMINT_LIMITS_PENDING_AUTHORIZATIONS_PER_ACCOUNT: '5',
        CERTMINT_LIMITS_IDENTIFIERS_PER_ORDER: '4',
      },
    });
  });
  afterAll(async () => t?.close());

  const dnsIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ type: 'dns', value: `${prefix}${i}.limits.test` }));
  async function client(): Promise<InjectAcmeClient> {
    const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await c.register()).statusCode).toBe(201);
    return c;
  }
  const orderCount = async (c: InjectAcmeClient) =>
    ((await c.post(`${t.baseUrl}/acme/acct/${c.accountUrl!.split('/').pop()}/orders`, '')).json().orders as string[]).length;

  it('limits new orders per account per hour, with Retry-After until the oldest ages out', async () => {
    const c = await client();
    for (let i = 0; i < 3; i++) expect((await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds(`o${i}-`, 1) })).statusCode).toBe(201);
    t.clock.advance(10 * 60_000);
    const refused = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('o3-', 1) });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe(String(50 * 60));
    expect(refused.json()).toMatchObject({
      type: `${ERR}rateLimited`,
      detail: 'too many new orders for this account: at most 3 per hour (limits.newOrdersPerAccountPerHour); retry after 3000 s',
    });
    expect(refused.headers['replay-nonce']).toBeDefined();
    t.clock.advance(50 * 60_000);
    expect((await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('o4-', 1) })).statusCode).toBe(201);
  });

  it('limits pending authorizations per account; reused ones do not count twice', async () => {
    const c = await client();
    expect((await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('p', 4) })).statusCode).toBe(201);
    // The same names again reuse the pending authorizations: no new ones, allowed.
    expect((await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('p', 4) })).statusCode).toBe(201);
    const refused = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('q', 2) });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().detail).toMatch(/^too many pending authorizations for this account: 4 pending, at most 5/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(await orderCount(c)).toBe(2);
  });

  it('limits identifiers per order, without a Retry-After (waiting does not help)', async () => {
    const c = await client();
    const refused = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: dnsIds('big', 5) });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().detail).toContain('at most 4 identifiers (limits.identifiersPerOrder), this one names 5; split it');
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(await orderCount(c)).toBe(0);
  });

  it('limits new accounts per client address per hour; existing accounts are still found', async () => {
    t.clock.advance(2 * 3_600_000); // past the hour of the accounts registered above
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await client());
    const fourth = clients[3]!;
    const key = await newAccountKey();
    const refused = await new InjectAcmeClient(t.app, t.baseUrl, key).register();
    expect(refused.statusCode).toBe(429);
    expect(refused.json().detail).toMatch(/^too many new accounts from 127\.0\.0\.1: at most 4 per hour/);
    expect(refused.headers['retry-after']).toBeDefined();
    // Looking up an account that exists is not a new account.
    expect((await fourth.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined })).statusCode).toBe(200);
  });
});
