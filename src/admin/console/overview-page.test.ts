import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { expectCspClean, signInConsole, type ConsoleSignIn } from '../../../test/support/console-pages.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken } from '../../ra/admin-tokens.js';
import { REVOCATION_REASONS } from '../../ra/revocation.js';

// The overview page on a real app (real ledger, CA, issuance) through inject.
const DAY = 86_400_000;

describe('console overview', () => {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;
  const sessions: Record<'viewer' | 'operator', ConsoleSignIn> = {} as never;
  const tokens = { viewer: '', operator: '' };

  beforeAll(async () => {
    t = await startTestAcmeApp({ admin: true });
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    const issue = async (name: string, days: number) => (await issueCertificate(t, client, [name], { notAfter: new Date(t.clock.now().getTime() + days * DAY) })).serial;
    await issue('a.overview.test', 3);
    await issue('b.overview.test', 20);
    const c = await issue('c.overview.test', 40);
    await t.ra.revokeBySerial(c, REVOCATION_REASONS.keyCompromise, { kind: 'operator', name: 'test' });
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      tokens[role] = (await createAdminToken(t.ra.deps, { name, role }, 'operator:test')).token;
      registerSecrets([tokens[role]]);
      sessions[role] = await signInConsole(t, tokens[role]);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  const overview = async (role: 'viewer' | 'operator' = 'viewer') => {
    const res = await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie: sessions[role].cookie } });
    expect(res.statusCode).toBe(200);
    return res.body;
  };
  const figure = (body: string, label: string) => new RegExp(`role="group" aria-labelledby="(figure-[a-z]+)"><span class="n">(\\d+)</span> <span class="label" id="\\1">${label}</span>`).exec(body)?.[2];

  it('shows the four counts, the two charts, the CA and CRLs and notifications, for a viewer and an operator', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      const body = await overview(role);
      expectCspClean(body);
      expect(body.match(/<h1>/g)).toHaveLength(1);
      expect(body).toContain('<h1>Overview</h1>');
      expect([figure(body, 'valid'), figure(body, 'expiring within 7 days'), figure(body, 'renewal overdue'), figure(body, 'revoked, not yet expired')]).toEqual(['2', '1', expect.any(String), '1']);
      for (const h2 of ['Expiries, next 90 days', 'Issuances, last 90 days', 'CA and CRLs', 'Notifications']) expect(body).toMatch(new RegExp(`<h2 id="[a-z-]+">${h2}</h2>`));
      expect(body).toContain('data-chart="expiries"');
      expect(body).toContain('data-chart="issuances"');
      // The CRL issuer of the intermediate, stale until its first build runs, and generation 1 active.
      expect(body).toMatch(/<td data-label="Issuer" class="mono">intermediate<\/td>/);
      expect(body).toMatch(/<td data-label="Generation">1 <span class="state active">active<\/span><\/td>/);
      expect(body).toContain('No failed deliveries.');
    }
  });

  it('the chart data blocks are the summary\'s days as Unix seconds, in the shape app.ts draws', async () => {
    const body = await overview();
    const block = (id: string) => JSON.parse(new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`).exec(body)![1]!);
    const expiries = block('expiries');
    const today = Math.floor(t.clock.now().getTime() / DAY) * DAY;
    expect(expiries.title).toBe('Expiries, next 90 days');
    expect(expiries.days).toHaveLength(90);
    expect(expiries.days[0]).toBe(today / 1000);
    expect(expiries.series).toHaveLength(1);
    // The revoked one is not an expiry; the other two are, 3 and 20 days on (or a day nearer, past midnight).
    expect(expiries.series[0].values.reduce((a: number, b: number) => a + b, 0)).toBe(2);
    const issuances = block('issuances');
    expect(issuances.days.at(-1)).toBe(today / 1000);
    expect(issuances.series[0].values.reduce((a: number, b: number) => a + b, 0)).toBe(3);
  });

  it('reads the same one-minute cache as GET /api/v1/summary: one computation serves both', async () => {
    t.clock.advance(2 * 60_000);
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/summary', headers: { authorization: `Bearer ${tokens.viewer}` } });
    const valid = api.json().counts.valid as number;
    await issueCertificate(t, client, ['d.overview.test'], { notAfter: new Date(t.clock.now().getTime() + 30 * DAY) });
    // The API computed the figures just now: the page shows them, not a count of its own.
    const body = await overview();
    expect(figure(body, 'valid')).toBe(String(valid));
    expect(body).toContain(`Figures as of <time datetime="${api.json().generatedAt}">`);
    // The intermediate's live count too: the page scans no certificates of its own.
    expect(body).toContain(`<td data-label="Live certificates">${valid}</td>`);
    t.clock.advance(60_000);
    expect(figure(await overview(), 'valid')).toBe(String(valid + 1));
  });

  it('counts failed notification deliveries and links them', async () => {
    expect(await overview()).toContain('No failed deliveries.');
    // As the deliverer leaves them when a webhook keeps failing (ca-notification-routes.test.ts does the same).
    const outbox = t.ledger.outbox;
    const now = t.clock.now();
    await outbox.fanOutEvents([{ name: 'hook', events: ['certificate.issued'] }], now, 100);
    const claimed = await outbox.claimDeliveries('test', now, new Date(now.getTime() + 60_000), 100);
    expect(claimed.length).toBeGreaterThan(1);
    for (const d of claimed) await outbox.recordDeliveryAttempt(d.eventId, d.webhook, 'test', { outcome: 'failed', error: 'HTTP 500' }, now);
    const body = await overview();
    expect(body).toContain(`${claimed.length} failed deliveries: <a href="/console/notifications?failed=true">see the failed deliveries</a>`);
  });
});
