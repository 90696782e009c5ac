import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateLedger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';

const DAY = 86_400_000;
/** ledger.retention's default. */
const RETENTION_MS = 30 * DAY;

type Backend = { name: string; available: boolean; ledger?: () => Promise<(now: () => number) => Promise<CertificateLedger>> };

let cluster: PostgresCluster | undefined;
const backends: Backend[] = [
  { name: 'sqlite', available: true },
  {
    name: 'postgres',
    available: postgresAvailable(),
    ledger: async () => {
      cluster ??= await startPostgres();
      const url = await cluster.createDatabase();
      return async (now) => (await openLedger({ sqliteFile: '', postgres: { url, passwordFile: undefined, poolSize: 4 }, now })).ledger;
    },
  },
];
afterAll(async () => cluster?.stop(), 60_000);

/** Issue 20 point 4: expired orders, authorizations and challenges leave the ledger after ledger.retention. */
for (const backend of backends) {
  describe.skipIf(!backend.available)(`retention purge through the API [${backend.name}]`, () => {
    let t: TestAcmeApp;
    beforeAll(async () => {
      t = await startTestAcmeApp(backend.ledger ? { ledger: await backend.ledger() } : {});
    }, 120_000);
    afterAll(async () => t?.close());

    it('purges what expired past retention, keeps certificates, their orders, audit entries and live orders, and audits the run', async () => {
      const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
      expect((await c.register()).statusCode).toBe(201);
      const issued = await issueCertificate(t, c, ['kept.retention.test']);
      const issuedOrder = String(issued.finalize.headers.location);
      // Abandoned: an order whose authorizations are never answered, one of them deactivated.
      const stale = await c.post(`${t.baseUrl}/acme/new-order`, {
        identifiers: [{ type: 'dns', value: 'stale-1.retention.test' }, { type: 'dns', value: 'stale-2.retention.test' }],
      });
      expect(stale.statusCode).toBe(201);
      const staleAuthzs = stale.json<{ authorizations: string[] }>().authorizations;
      const staleChallenge = (await c.post(staleAuthzs[0]!, '')).json<{ challenges: { url: string }[] }>().challenges[0]!.url;
      expect((await c.post(staleAuthzs[1]!, { status: 'deactivated' })).statusCode).toBe(200);
      const auditBefore = await t.ledger.listAudit({ limit: 1000 });

      // Within retention nothing goes.
      t.clock.advance(7 * DAY + RETENTION_MS - DAY);
      const early = await t.ra.purgeExpired(RETENTION_MS);
      expect(early).toMatchObject({ orders: 0, authorizations: 0, challenges: 0 });
      // Spent nonces go once their lifetime (an hour) is over; that alone is not audited.
      expect(early.spentNonces).toBeGreaterThan(0);
      expect(await t.ledger.listAudit({ limit: 10, action: 'purge' })).toEqual([]);
      t.clock.advance(2 * DAY);
      const live = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'live.retention.test' }] });
      expect(live.statusCode).toBe(201);
      // The account's and the certificate's events, handed to no webhook (none is configured): they go too.
      await t.ledger.outbox.fanOutEvents([], t.clock.now(), 100);
      const run = await t.ra.purgeExpired(RETENTION_MS);
      expect(run).toMatchObject({ orders: 1, authorizations: 2, outboxEvents: 2 });
      expect(run.challenges).toBeGreaterThanOrEqual(2);

      // Gone, as if never created (404 like any unknown resource).
      expect((await c.post(String(stale.headers.location), '')).statusCode).toBe(404);
      for (const url of [...staleAuthzs, staleChallenge]) expect((await c.post(url, '')).statusCode).toBe(404);
      const orders = (await c.post(`${c.accountUrl!}/orders`, '')).json<{ orders: string[] }>().orders;
      expect(orders.sort()).toEqual([issuedOrder, String(live.headers.location)].sort());
      // Kept: the certificate, its (expired) order and authorization, the live order.
      expect((await c.post(issued.finalize.json<{ certificate: string }>().certificate, '')).statusCode).toBe(200);
      const kept = await c.post(issuedOrder, '');
      expect(kept.json()).toMatchObject({ status: 'valid' });
      expect((await c.post(kept.json<{ authorizations: string[] }>().authorizations[0]!, '')).statusCode).toBe(200);
      expect((await c.post(String(live.headers.location), '')).json()).toMatchObject({ status: 'pending' });
      expect((await t.ledger.getCertificate(issued.serial))?.serial).toBe(issued.serial);

      // Every earlier audit entry is still there, and one more says what the purge removed.
      const auditAfter = await t.ledger.listAudit({ limit: 1000 });
      expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
      const purges = auditAfter.filter((e) => e.action === 'purge');
      expect(purges).toHaveLength(1);
      expect(purges[0]).toMatchObject({
        actor: 'certmint',
        subject: 'ledger',
        detail: { orders: 1, authorizations: 2, challenges: run.challenges, outboxEvents: 2, spentNonces: run.spentNonces, retentionMs: RETENTION_MS },
      });
      // A run that finds nothing writes no entry.
      expect(await t.ra.purgeExpired(RETENTION_MS)).toMatchObject({ orders: 0, authorizations: 0, challenges: 0, outboxEvents: 0, spentNonces: 0 });
      expect((await t.ledger.listAudit({ limit: 1000, action: 'purge' })).length).toBe(1);
    });
  });
}
