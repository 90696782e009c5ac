import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../ledger/open-ledger.js';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';

// The shared ledger's database goes away while this process is in the middle of work: after a
// challenge was validated and before its outcome was committed, or after a certificate was
// signed and before it was committed. The ledger still says `processing`, and nothing would end
// that: no other instance takes the work over while this one lives. Once the database is back,
// this process ends it itself (RegistrationAuthority.settleUnsettledWork, which `serve` calls
// every few seconds while there is any). Real PostgreSQL, stopped with `pg_ctl stop -m fast`.

const available = postgresAvailable();
if (!available && process.env.CERTMINT_REQUIRE_CLIENTS === '1') throw new Error('PostgreSQL is missing: apt-get install postgresql');

const idOf = (url: string) => url.split('/').pop()!;
const URN = 'urn:ietf:params:acme:error:';

describe.skipIf(!available)('work the ledger refused to end while its database was gone', () => {
  let cluster: PostgresCluster;
  let url: string;
  let t: TestAcmeApp;
  let client: InjectAcmeClient;

  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase();
    t = await startTestAcmeApp({
      // The challenge POST answers `processing` at once; the validation goes on in the background.
      env: { CERTMINT_VALIDATION_ANSWER_WITHIN: '50ms' },
      ledger: async (now) => (await openLedger({ sqliteFile: '', postgres: { url, passwordFile: undefined, poolSize: 4 }, now })).ledger,
    });
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  /** A query past the ledger, on a connection of its own. */
  async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<R>(text, params)).rows;
    } finally {
      await c.end();
    }
  }

  it('validates a challenge again once the database is back, when its outcome could not be recorded', async () => {
    const order = (await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'validated.unsettled.test' }] })).json();
    const authzUrl = order.authorizations[0] as string;
    const challenge = (await client.post(authzUrl, '')).json().challenges.find((c: { type: string }) => c.type === 'http-01');
    t.responder.set(challenge.token, await client.keyAuthorization(challenge.token));

    // The client's web server answers only once the database is gone: the outcome cannot be recorded.
    const release = t.responder.hold();
    expect((await client.post(challenge.url, {})).json().status).toBe('processing');
    await cluster.stopServer();
    release();
    await t.ra.settled();
    expect(t.ra.unsettledWork).toBe(1);

    // While it is still gone, settling fails and keeps the work.
    await expect(t.ra.settleUnsettledWork()).rejects.toThrow();
    expect(t.ra.unsettledWork).toBe(1);

    await cluster.startServer();
    expect(await sql('SELECT status FROM challenges WHERE id = $1', [idOf(challenge.url)])).toEqual([{ status: 'processing' }]);
    expect(await t.ra.settleUnsettledWork()).toEqual({ failedOrders: 0, revalidating: 1 });
    await t.ra.settled();
    expect(t.ra.unsettledWork).toBe(0);
    expect((await client.post(authzUrl, '')).json()).toMatchObject({
      status: 'valid',
      challenges: expect.arrayContaining([expect.objectContaining({ type: 'http-01', status: 'valid' })]),
    });
    expect((await client.post(String(order.finalize).replace(/\/finalize$/, ''), '')).json().status).toBe('ready');
    // Nothing left: a second call does nothing.
    expect(await t.ra.settleUnsettledWork()).toEqual({ failedOrders: 0, revalidating: 0 });
  });

  it('fails an order whose certificate could not be committed once the database is back, with the problem its finalize got', async () => {
    const order = await validateNames(t, client, ['finalized.unsettled.test']);
    const orderUrl = String(order.finalize).replace(/\/finalize$/, '');
    const csr = await makeCsr(['finalized.unsettled.test']);

    // Another session holds the certificates table: finalize begins, signs, and waits to commit.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    holder.on('error', () => undefined); // the fast shutdown below ends this session too
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE certificates IN EXCLUSIVE MODE');
    const finalizing = client.post(order.finalize, { csr: Buffer.from(csr.der).toString('base64url') });
    for (let i = 0; ; i++) {
      const waiting = await sql(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO certificates%'`);
      if (waiting.length > 0) break;
      if (i > 200) throw new Error('finalize never waited for the certificates table');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await cluster.stopServer();

    const answer = await finalizing;
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    expect(answer.json()).toMatchObject({ type: `${URN}serverInternal`, detail: 'the certificate could not be issued; create a new order and retry' });
    expect(answer.body).not.toMatch(/postgres|ECONNREFUSED|INSERT/i);
    expect(t.ra.unsettledWork).toBe(1);
    await holder.end().catch(() => undefined);

    await cluster.startServer();
    expect(await sql('SELECT status FROM orders WHERE id = $1', [idOf(orderUrl)])).toEqual([{ status: 'processing' }]);
    expect(await t.ra.settleUnsettledWork()).toEqual({ failedOrders: 1, revalidating: 0 });
    expect(t.ra.unsettledWork).toBe(0);
    expect((await client.post(orderUrl, '')).json()).toMatchObject({
      status: 'invalid',
      error: { type: `${URN}serverInternal`, detail: 'the certificate could not be issued; create a new order and retry' },
    });
    expect(await sql('SELECT count(*)::int AS n FROM certificates')).toEqual([{ n: 0 }]);

    // What the problem asks for: a new order, ready at once (the authorization is reused), is issued.
    const retry = (await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'finalized.unsettled.test' }] })).json();
    expect(retry.status).toBe('ready');
    const issued = await client.post(retry.finalize, { csr: Buffer.from(csr.der).toString('base64url') });
    expect(issued.json().status).toBe('valid');
    expect(await sql('SELECT count(*)::int AS n FROM certificates')).toEqual([{ n: 1 }]);
  });
});
