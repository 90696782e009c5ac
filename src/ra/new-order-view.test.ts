import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

// newOrder answers with the order as createOrder committed it, without reading it back (issue 27):
// the answer must be what a client fetching the order right after gets, whatever the order holds.
let t: TestAcmeApp;
let client: InjectAcmeClient;
beforeAll(async () => {
  t = await startTestAcmeApp();
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await client.register()).statusCode).toBe(201);
});
afterAll(async () => t?.close());

const DAY = 86_400_000;

async function answeredAndFetched(payload: Record<string, unknown>): Promise<{ answered: unknown; fetched: unknown; status: string }> {
  const created = await client.post(`${t.baseUrl}/acme/new-order`, payload);
  expect(created.statusCode).toBe(201);
  const fetched = await client.post(String(created.headers.location), '');
  return { answered: created.json(), fetched: fetched.json(), status: created.json().status as string };
}

describe('newOrder answer', () => {
  it('equals the order fetched right after: new, reused and wildcard authorizations, IP addresses, a profile and validity', async () => {
    await validateNames(t, client, ['reused.view.test', 'also-reused.view.test']);
    const cases: [Record<string, unknown>, string][] = [
      [{ identifiers: [{ type: 'dns', value: 'new.view.test' }] }, 'pending'],
      [{ identifiers: [{ type: 'dns', value: 'Reused.View.test' }, { type: 'dns', value: 'fresh.view.test' }] }, 'pending'],
      [{ identifiers: [{ type: 'dns', value: 'reused.view.test' }, { type: 'dns', value: 'also-reused.view.test' }] }, 'ready'],
      [{ identifiers: [{ type: 'dns', value: '*.wild.view.test' }, { type: 'ip', value: '192.0.2.7' }] }, 'pending'],
      [{ identifiers: [{ type: 'dns', value: 'reused.view.test' }], profile: 'shortlived', notAfter: new Date(t.clock.now().getTime() + DAY).toISOString() }, 'ready'],
    ];
    for (const [payload, status] of cases) {
      const { answered, fetched, status: answeredStatus } = await answeredAndFetched(payload);
      expect(answeredStatus, JSON.stringify(payload)).toBe(status);
      expect(answered, JSON.stringify(payload)).toEqual(fetched);
    }
  });
});
