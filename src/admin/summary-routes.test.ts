import { describe, expect, it, vi } from 'vitest';
import type { TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { postgresAvailable } from '../../test/support/postgres.js';
import { createAdminToken } from '../ra/admin-tokens.js';
import { REVOCATION_REASONS } from '../ra/revocation.js';
import { SUMMARY_REFRESH_MS, SummaryCache } from './summary-routes.js';

// GET /api/v1/summary on a ledger whose contents the test knows (issued through ACME on the
// injected clock, one revoked), and its one-minute cache; on SQLite and on PostgreSQL.
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

interface Summary {
  generatedAt: string;
  counts: { valid: number; expiringWithin7d: number; overdue: number; revoked: number };
  expiriesPerDay: { day: string; count: number }[];
  issuancesPerDay: { day: string; count: number }[];
}

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;
  const tokens = { viewer: '', operator: '' };

  useTestAcmeApp({ backend, admin: true }, async (app) => {
    t = app;
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      const issued = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
      registerSecrets([issued.token]);
      tokens[role] = issued.token;
    }
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register({ termsOfServiceAgreed: true });
    // Yesterday: two expiring three days on, one 40 days on (then revoked); today: one 10 days on.
    const issue = async (name: string, days: number) =>
      (await issueCertificate(t, client, [name], { notAfter: new Date(t.clock.now().getTime() + days * DAY) })).serial;
    await issue('a.summary.test', 3);
    await issue('b.summary.test', 3);
    const c = await issue('c.summary.test', 40);
    await t.ra.revokeBySerial(c, REVOCATION_REASONS.keyCompromise, { kind: 'operator', name: 'test' });
    t.clock.advance(DAY);
    await issue('d.summary.test', 10);
  });

  const summary = async (token = tokens.viewer) => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/summary', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Summary;
  };

  it('a minute after, with no request meanwhile: computed again before answering', async () => {
    const first = await summary();
    t.clock.advance(61_000);
    expect((await summary()).generatedAt).toBe(t.clock.now().toISOString());
    expect((await summary()).generatedAt).not.toBe(first.generatedAt);
  });

  it('no token: 401', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/summary' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ type: `${URN}unauthorized` });
  });

  it('counts, expiries per day for the next 90 days and issuances per day for the last 90, for a viewer and an operator', async () => {
    const s = await summary();
    const now = t.clock.now();
    const overdue = await t.ledger.countCertificates({ now, overdue: true, limit: 1 });
    expect(s.generatedAt).toBe(now.toISOString());
    expect(s.counts).toEqual({ valid: 3, expiringWithin7d: 2, overdue, revoked: 1 });
    const today = Math.floor(now.getTime() / DAY) * DAY;
    const day = (offset: number) => new Date(today + offset * DAY).toISOString().slice(0, 10);
    expect(s.expiriesPerDay).toHaveLength(90);
    expect(s.expiriesPerDay[0]!.day).toBe(day(0));
    expect(s.expiriesPerDay[89]!.day).toBe(day(89));
    // The revoked one (39 days on) is not among them.
    expect(s.expiriesPerDay.flatMap((d, i) => (d.count > 0 ? [[i, d.count]] : []))).toEqual([[2, 2], [10, 1]]);
    expect(s.issuancesPerDay).toHaveLength(90);
    expect(s.issuancesPerDay[89]!.day).toBe(day(0));
    expect(s.issuancesPerDay[0]!.day).toBe(day(-89));
    expect(s.issuancesPerDay.flatMap((d, i) => (d.count > 0 ? [[i, d.count]] : []))).toEqual([[88, 3], [89, 1]]);
    expect(await summary(tokens.operator)).toEqual(s);
  });

  it('is served from a cache for a minute of the injected clock, computed again meanwhile, never older', async () => {
    const before = await summary();
    await issueCertificate(t, client, ['e.summary.test'], { notAfter: new Date(t.clock.now().getTime() + 5 * DAY) });
    t.clock.advance(29_000);
    expect(await summary()).toEqual(before);
    // Past half its life: still served at once, and the next computation starts now.
    t.clock.advance(30_000);
    expect(await summary()).toEqual(before);
    const refreshedAt = t.clock.now().toISOString();
    // A minute old: never served again; the one started meanwhile is.
    t.clock.advance(1_000);
    const after = await summary();
    expect(after.generatedAt).toBe(refreshedAt);
    expect(after.counts.valid).toBe(before.counts.valid + 1);
    expect(after.counts.expiringWithin7d).toBe(before.counts.expiringWithin7d + 1);
    // Summed: the minute may have crossed midnight (the clock starts at the wall clock's time).
    const issued = (x: Summary) => x.issuancesPerDay.reduce((sum, d) => sum + d.count, 0);
    expect(issued(after)).toBe(issued(before) + 1);
  });

  it('while started, recomputes in the background before the figures are a minute old: no request waits', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const cache = new SummaryCache({ ledger: t.ledger, clock: t.clock });
    try {
      cache.start();
      const first = await cache.get();
      await issueCertificate(t, client, ['f.summary.test'], { notAfter: new Date(t.clock.now().getTime() + 5 * DAY) });
      t.clock.advance(SUMMARY_REFRESH_MS + 1_000);
      const refreshedAt = t.clock.now().toISOString();
      // The timer's turn: a computation starts with no request asking.
      vi.advanceTimersByTime(SUMMARY_REFRESH_MS);
      // 61 s after the first figures: a request gets the timer's (begun 15 s ago), not a new computation.
      t.clock.advance(15_000);
      const later = await cache.get();
      expect(later.generatedAt).toBe(refreshedAt);
      expect(later.counts.valid).toBe(first.counts.valid + 1);
    } finally {
      cache.stop();
      vi.useRealTimers();
    }
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`admin API: summary [${backend}]`, () => suite(backend));
}
