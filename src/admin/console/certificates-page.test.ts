import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../../test/support/acme-app.js';
import { expectCspClean, signInConsole, type ConsoleSignIn } from '../../../test/support/console-pages.js';
import { issueCertificate } from '../../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../../test/support/jws-client.js';
import { registerSecrets } from '../../../test/support/suite-log.js';
import { createAdminToken } from '../../ra/admin-tokens.js';
import { REVOCATION_REASONS } from '../../ra/revocation.js';

// The certificate list page on a real app (real ledger, CA, issuance) through inject: its filters
// are the API's, its pages the keyset cursor's.
const DAY = 86_400_000;

describe('console certificate list', () => {
  let t: TestAcmeApp;
  const sessions: Record<'viewer' | 'operator', ConsoleSignIn> = {} as never;
  /** serial by first name */
  const serial: Record<string, string> = {};
  let otherAccount = '';
  const tokens = { viewer: '', operator: '' };

  beforeAll(async () => {
    t = await startTestAcmeApp({ admin: true });
    const alice = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await alice.register({ termsOfServiceAgreed: true });
    const bob = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await bob.register({ termsOfServiceAgreed: true });
    otherAccount = bob.accountUrl!.split('/').pop()!;
    const issue = async (client: InjectAcmeClient, names: string[], days: number) => {
      serial[names[0]!] = (await issueCertificate(t, client, names, { notAfter: new Date(t.clock.now().getTime() + days * DAY) })).serial;
    };
    // Out of expiry order: the list sorts them.
    await issue(alice, ['web.list.test', 'a.web.list.test', 'b.web.list.test', 'c.web.list.test', 'd.web.list.test'], 30);
    await issue(alice, ['soon.list.test'], 5);
    await issue(alice, ['api.list.test'], 60);
    await issue(bob, ['bob.other.test'], 20);
    await issue(alice, ['gone.list.test'], 40);
    await t.ra.revokeBySerial(serial['gone.list.test']!, REVOCATION_REASONS.superseded, { kind: 'operator', name: 'test' });
    for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
      const { token } = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
      registerSecrets([token]);
      tokens[role] = token;
      sessions[role] = await signInConsole(t, token);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  const list = (query = '', role: 'viewer' | 'operator' = 'viewer') => t.app.inject({ method: 'GET', url: `/console/certificates${query}`, headers: { cookie: sessions[role].cookie } });
  const serialsOf = (body: string) => [...body.matchAll(/<td data-label="Serial" class="mono"><a href="\/console\/certificates\/([0-9a-f]+)">/g)].map((m) => m[1]);
  const names = (...firsts: string[]) => firsts.map((n) => serial[n]);

  it('renders the search form and the table of the contract for a viewer and an operator, sorted by expiry', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      const res = await list('', role);
      expect(res.statusCode).toBe(200);
      expectCspClean(res.body);
      expect(res.body).toContain('<h1>Certificates</h1>');
      expect(res.body).toMatch(/<form role="search" class="filters" method="get" action="\/console\/certificates"/);
      for (const label of ['Name', 'Serial', 'Account', 'Profile', 'Expiring within']) expect(res.body).toMatch(new RegExp(`<label>${label} <(input|select) name=`));
      for (const label of ['Renewal overdue', 'Revoked', 'Expired']) expect(res.body).toMatch(new RegExp(`<label class="check"><input name="[a-z]+" type="checkbox" value="true"> ${label}</label>`));
      expect(res.body).toContain('<button type="submit">Search</button>');
      for (const col of ['Serial', 'Names', 'State', 'Profile']) expect(res.body).toContain(`<th scope="col">${col}</th>`);
      expect(res.body).toContain('<th scope="col" aria-sort="ascending">Not after</th>');
      expect(res.body).toMatch(/<label>Order <select name="order">\s*<option value="asc" selected>Soonest expiry first<\/option>\s*<option value="desc">Latest expiry first<\/option>/);
      expect(serialsOf(res.body)).toEqual(names('soon.list.test', 'bob.other.test', 'web.list.test', 'gone.list.test', 'api.list.test'));
    }
    const body = (await list()).body;
    // First few names, then how many more; the expiry as a UTC date; the state as a class.
    expect(body).toContain('web.list.test, a.web.list.test, b.web.list.test <span class="muted">+2 more</span>');
    const soon = (await t.ledger.getCertificate(serial['soon.list.test']!))!.notAfter.toISOString();
    expect(body).toContain(`<time datetime="${soon}">${soon.slice(0, 10)}</time>`);
    expect(body).toContain('<span class="state revoked">revoked</span>');
    expect(body).toContain('<td data-label="Profile">default</td>');
    // htmx swaps just the results, and pushes the search's URL.
    expect(body).toContain('hx-get="/console/certificates" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true"');
    expect(body).toContain('<section id="results"');
  });

  it('filters as the API does: name (exact or *.suffix), account, profile, expiring within, revoked, expired; empty fields are dropped', async () => {
    const empty = '&serial=&account=&profile=&expiringWithin=';
    const cases: [string, (string | undefined)[]][] = [
      [`?identifier=api.list.test${empty}`, names('api.list.test')],
      [`?identifier=*.web.list.test${empty}`, names('web.list.test')],
      [`?account=${otherAccount}`, names('bob.other.test')],
      ['?profile=default&revoked=true', names('gone.list.test')],
      ['?profile=nothing-like-it', []],
      ['?expiringWithin=7d', names('soon.list.test')],
      ['?identifier=&expiringWithin=30d&overdue=', names('soon.list.test', 'bob.other.test', 'web.list.test')],
    ];
    for (const [query, expected] of cases) {
      const res = await list(query);
      expect([query, res.statusCode, serialsOf(res.body)]).toEqual([query, 200, expected]);
      // The API says the same of the same query (without the page's empty fields).
      const api = await t.app.inject({ method: 'GET', url: `/api/v1/certificates${query.replace(/&?[a-zA-Z]+=(?=&|$)/g, '').replace(/^\?&/, '?')}`, headers: { cookie: sessions.viewer.cookie } });
      expect([query, api.json().certificates.map((c: { serial: string }) => c.serial)]).toEqual([query, expected]);
    }
    const none = await list('?identifier=nowhere.test');
    expect(none.body).toContain('No certificate matches.');
    // The form shows the search it answered.
    const searched = (await list('?identifier=api.list.test&expiringWithin=30d&revoked=true')).body;
    expect(searched).toContain('name="identifier" type="search" value="api.list.test"');
    expect(searched).toContain('<option value="30d" selected>');
    expect(searched).toContain('name="revoked" type="checkbox" value="true" checked>');
  });

  it('a serial search shows that one certificate, or says there is none', async () => {
    const one = await list(`?serial=${serial['api.list.test']!.toUpperCase().replace(/(..)(?=.)/g, '$1:')}`);
    expect(serialsOf(one.body)).toEqual(names('api.list.test'));
    const none = await list('?serial=00ff');
    expect(none.statusCode).toBe(200);
    expect(none.body).toContain('There is no certificate with serial 00ff in this ledger.');
  });

  it('pages through the list with the keyset cursor and a "Next page" link', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/console/certificates?limit=2';
    let pages = 0;
    while (url !== undefined) {
      const res: { statusCode: number; body: string } = await t.app.inject({ method: 'GET', url, headers: { cookie: sessions.viewer.cookie } });
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...(serialsOf(res.body) as string[]));
      pages++;
      const next: string | undefined = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(res.body)?.[1];
      url = next?.replace(/&amp;/g, '&');
      if (url !== undefined) expect(url).toMatch(/^\/console\/certificates\?limit=2&cursor=[A-Za-z0-9_-]+$/);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(names('soon.list.test', 'bob.other.test', 'web.list.test', 'gone.list.test', 'api.list.test'));
  });

  it('sorts latest expiry first with "Order", and its "Next page" keeps that order', async () => {
    const first = await list('?order=desc&limit=3');
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('<option value="desc" selected>Latest expiry first</option>');
    expect(first.body).toContain('<th scope="col" aria-sort="descending">Not after</th>');
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first.body)![1]!.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/console\/certificates\?order=desc&limit=3&cursor=/);
    const second = await t.app.inject({ method: 'GET', url: next, headers: { cookie: sessions.viewer.cookie } });
    expect([...serialsOf(first.body), ...serialsOf(second.body)]).toEqual(names('api.list.test', 'gone.list.test', 'web.list.test', 'bob.other.test', 'soon.list.test'));
    // A cursor of one order used with the other is a 400 notice, not a page that skips rows.
    const cursor = new URL(next, 'https://console.test').searchParams.get('cursor')!;
    const mixed = await list(`?order=asc&cursor=${cursor}`);
    expect(mixed.statusCode).toBe(400);
    expect(mixed.body).toContain('this cursor continues a list in descending order');
  });

  it('a bad filter is a notice on the page with status 400, its text escaped; an expired certificate shows once time has passed', async () => {
    for (const [query, detail] of <[string, string][]>[
      ['?expiringWithin=soonish', 'expiringWithin:'],
      ['?revoked=maybe', 'revoked must be true or false'],
      ['?cursor=abc', 'cursor is not one this API gave'],
      ['?serial=xyz', 'is not a certificate serial'],
      ['?limit=0', 'limit must be a whole number'],
      ['?colour=red', 'unknown query parameter'],
      ['?identifier=a&identifier=b', 'is given more than once'],
    ]) {
      const res = await list(query);
      expect([query, res.statusCode]).toEqual([query, 400]);
      expect(res.body).toMatch(new RegExp(`<p class="notice error" role="alert">[^<]*${detail.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(res.body).toContain('<form role="search"');
    }
    const hostile = '<script>alert(1)</script>';
    const res = await list(`?identifier=${encodeURIComponent(hostile)}&expiringWithin=${encodeURIComponent(hostile)}`);
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain(hostile);
    expect(res.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expectCspClean(res.body);

    t.clock.advance(6 * DAY);
    // Six days outlast any session.
    sessions.viewer = await signInConsole(t, tokens.viewer);
    expect(serialsOf((await list('?expired=true')).body)).toEqual(names('soon.list.test'));
    expect((await list()).body).toContain('<span class="state expired">expired</span>');
  });
});
