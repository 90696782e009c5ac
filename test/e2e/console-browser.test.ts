// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import {
  assertAccessible, DESKTOP, launchChromium, openGuardedPage, PHONE, requireChromiumOrSkip, screenshot, SCREENSHOT_DIR, signIn, tabTo, type GuardedPage,
} from '../support/browser.js';
import { certIdOf } from '../support/cert-id.js';
import { actionsOn, atPath, drawnCanvases, openConsolePage } from '../support/console-browser-pages.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli } from '../support/cli.js';
import { requireOrSkip } from '../support/clients.js';
import { startHttp01Responder } from '../support/http01-responder.js';
import { freePort } from '../support/ports.js';
import { registerSecrets } from '../support/suite-log.js';

// Issue 25, the console as a person uses it: a real `certmint serve` with admin.enabled, tokens
// from the real CLI, certificates issued over ACME, and Debian's chromium driven by
// playwright-core. Every test fails on a console error, a page error, a failed request or a CSP
// violation (test/support/browser.ts); every page passes axe-core with no serious or critical
// violation and is photographed at desktop and phone widths into test-artifacts/console/.
// CERTMINT_UPDATE_SCREENSHOTS=1 also copies the overview and the certificate list into docs/images/.
const chromiumAvailable = requireChromiumOrSkip();
const legoAvailable = chromiumAvailable && requireOrSkip('lego', 'apt-get install lego');
const DOCS_IMAGES = path.resolve(SCREENSHOT_DIR, '../../docs/images');

interface Issued {
  readonly serial: string;
  readonly leafPem: string;
}

/** The bytes at an https URL, trusting only the server's roots (a CRL is DER). */
function getBytes(url: string, rootPem: string, bearer?: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: rootPem, agent: false, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

function postJson(url: string, rootPem: string, bearer: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: rootPem, agent: false, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function createToken(certmint: CertmintProcess, name: string, role: 'operator' | 'viewer'): Promise<string> {
  const r = await certmint.cli(['admin', 'token', 'create', '--name', name, '--role', role, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const { token } = JSON.parse(r.stdout) as { token: string };
  registerSecrets([token]);
  return token;
}

/** Issues one certificate per name over ACME (http-01), all at once: serial and leaf PEM by name. */
async function issueAll(certmint: CertmintProcess, names: readonly string[]): Promise<Map<string, Issued>> {
  const responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
  try {
    const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
    const account: WireAccount = (await wire.newAccount()).account!;
    const issued = await Promise.all(
      names.map(async (name) => {
        const order = await wire.readyOrder(account, [name], responder);
        const fin = await wire.finalize(account, order.finalize, [name]);
        expect(fin.status, fin.body).toBe(200);
        const certUrl = String((JSON.parse(fin.body) as { certificate: string }).certificate);
        const chain = (await wire.postAsGet(account, certUrl)).body;
        return [name, { serial: certUrl.split('/').pop()!, leafPem: chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25) }] as const;
      }),
    );
    return new Map(issued);
  } finally {
    await responder.stop();
  }
}

const serialOfPem = (pem: string): string => new x509.X509Certificate(pem).serialNumber.toLowerCase();

describe.skipIf(!chromiumAvailable)('the console in chromium', () => {
  let browser: Browser;
  const guarded: GuardedPage[] = [];
  async function open(origin: string, device = DESKTOP as typeof DESKTOP | typeof PHONE): Promise<GuardedPage> {
    const g = await openGuardedPage(browser, { origin, device });
    guarded.push(g);
    return g;
  }

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  // Whatever a test did, the browser must have seen no error, failed request or CSP violation.
  afterEach(() => {
    for (const g of guarded) g.assertClean();
  });

  describe('on the ACME listener (admin.enabled)', () => {
    let certmint: CertmintProcess;
    let consoleUrl = '';
    const tokens = { operator: '', viewer: '' };
    let issued: Map<string, Issued>;
    let operator: GuardedPage;
    let secretDir = '';
    const cert = (name: string): Issued => issued.get(name)!;

    beforeAll(async () => {
      requireBuiltCli();
      // A webhook nobody listens at, tried once: the account below leaves a failed delivery, so
      // the notification pages have something to show and an operator something to retry.
      secretDir = await mkdtemp(path.join(tmpdir(), 'console-browser-'));
      await writeFile(path.join(secretDir, 'secret'), 'webhook-secret-of-the-console-test\n', { mode: 0o600 });
      registerSecrets(['webhook-secret-of-the-console-test']);
      const webhook = { name: 'nobody', url: `http://127.0.0.1:${await freePort()}/hook`, events: ['account.created'], secretFile: path.join(secretDir, 'secret'), format: 'json' };
      certmint = await startCertmint({
        config: { admin: { enabled: true }, crl: { minInterval: '200ms', checkInterval: '200ms' }, notifications: { webhooks: [webhook], maxAttempts: 1 } },
      });
      consoleUrl = `${certmint.baseUrl}/console`;
      tokens.operator = await createToken(certmint, 'ops', 'operator');
      tokens.viewer = await createToken(certmint, 'audit', 'viewer');
      issued = await issueAll(certmint, ['www.console.test', 'a.shop.console.test', 'b.shop.console.test', 'revoke.console.test', 'renew.console.test']);
      operator = await open(certmint.baseUrl);
      await signIn(operator.page, consoleUrl, tokens.operator);
    }, 120_000);
    afterAll(async () => {
      await certmint?.stop();
      if (secretDir) await rm(secretDir, { recursive: true, force: true });
    });

    it('signs in by keyboard alone; the overview shows the figures and draws two charts', async () => {
      const { page } = await open(certmint.baseUrl);
      await page.goto(`${consoleUrl}/`);
      await page.waitForURL(/\/console\/login\?next=/);
      await assertAccessible(page, 'the sign-in page');
      await screenshot(page, 'sign-in-desktop');
      await tabTo(page, page.getByLabel('Admin token'));
      await page.keyboard.type(tokens.operator);
      await Promise.all([page.waitForURL(atPath(`/console/`)), page.keyboard.press('Enter')]);

      const figure = (label: string) => page.locator('.figure').filter({ has: page.locator('.label').getByText(label, { exact: true }) }).locator('.n');
      // The figures are GET /api/v1/summary's (one cache, computed first when the server became
      // ready, then at most once a minute: src/admin/summary-routes.ts), so the page says what the
      // API says, as of the same generatedAt; that they count the ledger right is
      // src/admin/summary-routes.test.ts's and overview-page.test.ts's (with a test clock).
      const summary = JSON.parse((await getBytes(`${certmint.baseUrl}/api/v1/summary`, certmint.rootPem, tokens.operator)).body.toString('utf8')) as {
        generatedAt: string;
        counts: { valid: number; expiringWithin7d: number; overdue: number; revoked: number };
      };
      expect(summary.counts.valid).toBeGreaterThanOrEqual(1);
      expect(await figure('valid').innerText()).toBe(String(summary.counts.valid));
      expect(await figure('expiring within 7 days').innerText()).toBe(String(summary.counts.expiringWithin7d));
      expect(await figure('renewal overdue').innerText()).toBe(String(summary.counts.overdue));
      expect(await figure('revoked, not yet expired').innerText()).toBe(String(summary.counts.revoked));
      expect(await page.locator(`time[datetime="${summary.generatedAt}"]`).count()).toBeGreaterThanOrEqual(1);
      for (const name of ['Expiries, next 90 days', 'Issuances, last 90 days', 'CA and CRLs', 'Notifications']) {
        await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
      }
      await vi.waitFor(async () => expect(await drawnCanvases(page)).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 50 });
    });

    it('every page passes axe-core (no serious or critical violation) and is photographed at desktop and phone widths', { timeout: 90_000 }, async () => {
      const phone = await open(certmint.baseUrl, PHONE);
      await phone.page.goto(`${consoleUrl}/login`);
      await assertAccessible(phone.page, 'the sign-in page on a phone');
      await screenshot(phone.page, 'sign-in-phone');
      await signIn(phone.page, consoleUrl, tokens.operator);

      const { serial } = cert('renew.console.test');
      await operator.page.goto(`${consoleUrl}/accounts`);
      const accountHref = await operator.page.locator(`main a[href^="/console/accounts/"]`).first().getAttribute('href');
      expect(accountHref).toBeTruthy();
      const pages: [string, string][] = [
        ['overview', '/'],
        ['certificates', '/certificates'],
        ['certificate', `/certificates/${serial}`],
        ['revoke', `/certificates/${serial}/revoke`],
        ['accounts', '/accounts'],
        ['account', accountHref!.slice('/console'.length)],
        ['eab-keys', '/eab-keys'],
        ['ca', '/ca'],
        ['audit', '/audit'],
        ['notifications', '/notifications'],
      ];
      // Both widths at once, each in its own context: the browser works on the two pages in parallel.
      const walk = async (g: GuardedPage, device: 'desktop' | 'phone') => {
        for (const [name, route] of pages) {
          await openConsolePage(g.page, `${consoleUrl}${route}`);
          if (name === 'overview') await vi.waitFor(async () => expect(await drawnCanvases(g.page)).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 50 });
          await assertAccessible(g.page, `${name} (${device})`);
          // Readable on a phone: nothing wider than the screen (tables become cards, long serials wrap).
          const widths = await g.page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: document.documentElement.clientWidth }));
          expect(widths.page, `${name} (${device}) is ${widths.page} px wide on a ${widths.screen} px screen`).toBeLessThanOrEqual(widths.screen);
          await screenshot(g.page, `${name}-${device}`);
        }
      };
      await Promise.all([walk(operator, 'desktop'), walk(phone, 'phone')]);
      if (process.env.CERTMINT_UPDATE_SCREENSHOTS === '1') {
        await mkdir(DOCS_IMAGES, { recursive: true });
        await copyFile(path.join(SCREENSHOT_DIR, 'overview-desktop.png'), path.join(DOCS_IMAGES, 'console-overview.png'));
        await copyFile(path.join(SCREENSHOT_DIR, 'certificates-desktop.png'), path.join(DOCS_IMAGES, 'console-certificates.png'));
      }
    });

    it('searches by exact name and *.suffix with the keyboard, downloads the PEM, revokes with a reason, and the served CRL lists it', { timeout: 60_000 }, async () => {
      const { page } = operator;
      const target = cert('revoke.console.test');
      await page.goto(`${consoleUrl}/certificates`);
      const search = page.getByRole('search');
      const serialsShown = async () => (await page.locator('table tbody tr').locator('a[href*="/console/certificates/"]').allInnerTexts()).map((s) => s.trim().toLowerCase()).sort();

      await tabTo(page, search.getByLabel('Name', { exact: true }));
      await page.keyboard.type('revoke.console.test');
      await Promise.all([page.waitForURL(/[?&]identifier=revoke\.console\.test(&|$)/), page.keyboard.press('Enter')]);
      await vi.waitFor(async () => expect(await serialsShown()).toEqual([target.serial]), { timeout: 10_000, interval: 50 });

      await search.getByLabel('Name', { exact: true }).fill('*.shop.console.test');
      await Promise.all([page.waitForURL(/[?&]identifier=\*\.shop\.console\.test(&|$)/), search.getByRole('button', { name: 'Search' }).click()]);
      const shop = [cert('a.shop.console.test').serial, cert('b.shop.console.test').serial].sort();
      await vi.waitFor(async () => expect(await serialsShown()).toEqual(shop), { timeout: 10_000, interval: 50 });
      for (const header of ['Serial', 'Names', 'Not after', 'State', 'Profile']) await page.getByRole('columnheader', { name: header, exact: true }).waitFor();
      // One row a page: "Next page" (rel=next) goes on to the other.
      await page.goto(`${consoleUrl}/certificates?identifier=${encodeURIComponent('*.shop.console.test')}&limit=1`);
      const first = await serialsShown();
      const next = page.getByRole('link', { name: 'Next page' });
      expect(await next.getAttribute('rel')).toBe('next');
      await Promise.all([page.waitForURL(/[?&]cursor=/), next.click()]);
      expect([...first, ...(await serialsShown())].sort()).toEqual(shop);

      // Back to the exact search (the shareable URL), then to the detail by Tab and Enter.
      await page.goto(`${consoleUrl}/certificates?identifier=revoke.console.test`);
      await tabTo(page, page.getByRole('link', { name: target.serial }));
      await Promise.all([page.waitForURL(atPath(`/console/certificates/${target.serial}`)), page.keyboard.press('Enter')]);
      await page.getByRole('heading', { level: 1, name: `Certificate ${target.serial}` }).waitFor();
      for (const name of ['Lineage', 'Audit trail']) await page.getByRole('heading', { level: 2, name }).waitFor();
      expect(await page.getByRole('link', { name: 'Download chain' }).getAttribute('href')).toBe(`/api/v1/certificates/${target.serial}/chain`);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download PEM' }).click()]);
      const pem = await readFile((await download.path())!, 'utf8');
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\r?\n/);
      expect(serialOfPem(pem)).toBe(target.serial);

      await Promise.all([page.waitForURL(atPath(`/console/certificates/${target.serial}/revoke`)), page.getByRole('link', { name: 'Revoke…' }).click()]);
      const reason = page.getByLabel('Reason');
      const options = await reason.locator('option').evaluateAll((os: HTMLOptionElement[]) => os.map((o) => ({ value: o.value, label: o.label })));
      const keyCompromise = options.find((o) => /key ?compromise/i.test(`${o.value} ${o.label}`));
      expect(keyCompromise, JSON.stringify(options)).toBeDefined();
      await reason.selectOption(keyCompromise!.value);
      await Promise.all([page.waitForURL(atPath(`/console/certificates/${target.serial}`)), page.getByRole('button', { name: 'Revoke certificate' }).click()]);
      await page.getByText(`Certificate ${target.serial} revoked`).waitFor();

      const shown = await certmint.showCertificate(target.serial);
      expect(shown.status).toBe('revoked');
      expect((shown.audit as { actor: string; action: string }[]).at(-1)).toMatchObject({ actor: 'admin:ops', action: 'revoke' });
      const crlUrl = new x509.X509Certificate(pem).getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
      await vi.waitFor(
        async () => {
          const crl = await getBytes(crlUrl, certmint.rootPem);
          expect(crl.status).toBe(200);
          const listed = new x509.X509Crl(new Uint8Array(crl.body)).entries.map((e) => e.serialNumber.toLowerCase());
          expect(listed).toContain(target.serial);
        },
        { timeout: 10_000, interval: 100 },
      );
    });

    it('renew-early moves the ARI window into the past and says so', async () => {
      const { page } = operator;
      const target = cert('renew.console.test');
      const certId = certIdOf(new Uint8Array(new x509.X509Certificate(target.leafPem).rawData));
      const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
      const window = async () => {
        const res = await wire.get(`/acme/renewal-info/${certId}`);
        expect(res.status, res.body).toBe(200);
        const w = (JSON.parse(res.body) as { suggestedWindow: { start: string; end: string } }).suggestedWindow;
        return { start: Date.parse(w.start), end: Date.parse(w.end) };
      };
      const before = await window();
      await page.goto(`${consoleUrl}/certificates/${target.serial}`);
      await Promise.all([page.waitForURL(atPath(`/console/certificates/${target.serial}`)), page.getByRole('button', { name: 'Renew early' }).click()]);
      await page.getByText('ARI now tells its client to renew').waitFor();
      const after = await window();
      expect(after.end).toBeLessThan(before.start);
      expect(after.start).toBeLessThanOrEqual(Date.now());
    });

    it.skipIf(!legoAvailable)('creates an EAB key on its page; lego registers with the kid and HMAC read from the page and gets a certificate', { timeout: 120_000 }, async () => {
      const { page } = operator;
      await page.goto(`${consoleUrl}/eab-keys`);
      await page.getByLabel('Label').fill('lego-from-console');
      const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Create EAB key' }).click()]);
      expect(answer.status()).toBe(200);
      const kid = (await page.locator('[data-field="kid"]').innerText()).trim();
      const hmacKey = (await page.locator('[data-field="hmacKey"]').innerText()).trim();
      registerSecrets([hmacKey]);
      expect(kid).not.toBe('');
      expect(hmacKey).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      await assertAccessible(page, 'the EAB page showing a new key');
      await screenshot(page, 'eab-key-created-desktop');

      const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          'lego',
          [
            '--server', certmint.directoryUrl, '--email', 'console@example.internal', '--accept-tos',
            '--domains', 'lego.console.test', '--http', '--http.port', `127.0.0.1:${certmint.http01Port}`,
            '--path', path.join(certmint.tempDir, 'lego-console'), '--eab', '--kid', kid, '--hmac', hmacKey, 'run',
          ],
          { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: 90_000 },
          (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }),
        );
      });
      expect(run.code, `${run.stderr}\n--- certmint ---\n${certmint.output()}`).toBe(0);
      const keys = await getBytes(`${certmint.baseUrl}/api/v1/eab-keys`, certmint.rootPem, tokens.operator);
      const key = (JSON.parse(keys.body.toString('utf8')) as { eabKeys: { kid: string; state: string; bindings: number }[] }).eabKeys.find((k) => k.kid === kid);
      expect(key).toMatchObject({ state: 'used', bindings: 1 });
    });

    it('a viewer sees no action anywhere, and a revocation it sends anyway gets 403 from the page and from Node', { timeout: 60_000 }, async () => {
      const viewer = await open(certmint.baseUrl);
      const { page } = viewer;
      await signIn(page, consoleUrl, tokens.viewer);
      const { serial } = cert('www.console.test');
      await page.goto(`${consoleUrl}/accounts`);
      const accountHref = await page.locator(`main a[href^="/console/accounts/"]`).first().getAttribute('href');
      const routes = ['/', '/certificates', `/certificates/${serial}`, '/accounts', accountHref!.slice('/console'.length), '/eab-keys', '/ca', '/audit', '/notifications'];
      // The same pages show an operator the actions (the failed delivery's Retry among them), so
      // their absence for the viewer means something.
      await vi.waitFor(
        async () => {
          await operator.page.goto(`${consoleUrl}/notifications`);
          expect(await operator.page.getByRole('button', { name: 'Retry', exact: true }).count()).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 100 },
      );
      const seen = new Set<string>();
      for (const route of routes) {
        await openConsolePage(operator.page, `${consoleUrl}${route}`);
        for (const name of await actionsOn(operator.page)) seen.add(name);
      }
      const onPages = ['Revoke…', 'Renew early', 'Create EAB key', ...(legoAvailable ? ['Revoke'] : []), 'Deactivate account', 'Retry'];
      expect([...seen].sort()).toEqual(expect.arrayContaining(onPages.sort()));
      for (const route of routes) {
        await openConsolePage(page, `${consoleUrl}${route}`);
        expect(await actionsOn(page), `actions on ${route} for a viewer`).toEqual([]);
      }
      const revokeUrl = `/api/v1/certificates/${serial}/revoke`;
      const statuses = await viewer.allowingErrors(/status of 403/, () =>
        page.evaluate(async (url) => {
          const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
          const send = (headers: Record<string, string>) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"reason":"keyCompromise"}' });
          // Each answer read to its end: an unread body is aborted by the next navigation.
          const status = async (r: Promise<Response>) => {
            const res = await r;
            await res.text();
            return res.status;
          };
          return [csrf !== '', await status(send({ 'X-CSRF-Token': csrf })), await status(send({}))];
        }, revokeUrl),
      );
      expect(statuses).toEqual([true, 403, 403]);
      expect(await postJson(`${certmint.baseUrl}${revokeUrl}`, certmint.rootPem, tokens.viewer, { reason: 'keyCompromise' })).toBe(403);
      const confirm = await viewer.allowingErrors(/status of 403/, () => page.goto(`${consoleUrl}/certificates/${serial}/revoke`));
      expect(confirm?.status()).toBe(403);
      expect((await certmint.showCertificate(serial)).status).toBe('valid');
    });

    it('signs out; the next page load goes to the sign-in form', async () => {
      const { page } = operator;
      await page.goto(`${consoleUrl}/`);
      await Promise.all([page.waitForURL(/\/console\/login$/), page.getByRole('button', { name: 'Sign out' }).click()]);
      await page.goto(`${consoleUrl}/`);
      expect(new URL(page.url()).pathname).toBe('/console/login');
      await page.getByLabel('Admin token').waitFor();
    });

    it('the guard sees a CSP violation (an inline style the page did not send)', async () => {
      const { page } = operator;
      await page.evaluate(() => {
        const style = document.createElement('style');
        style.textContent = 'body { color: red }';
        document.head.append(style);
      });
      await vi.waitFor(() => expect(operator.takeProblems().join('\n')).toMatch(/CSP violation: style-src/), { timeout: 5_000, interval: 20 });
      operator.takeProblems();
    });
  });

  describe('on admin.listen', () => {
    let certmint: CertmintProcess;
    let adminOrigin = '';
    let token = '';
    beforeAll(async () => {
      requireBuiltCli();
      const port = await freePort();
      adminOrigin = `https://127.0.0.1:${port}`;
      certmint = await startCertmint({ config: { admin: { enabled: true, listen: `127.0.0.1:${port}` } } });
      token = await createToken(certmint, 'ops', 'operator');
    }, 120_000);
    afterAll(async () => {
      await certmint?.stop();
    });

    it('serves the console on its own listener only; sign-in and the overview work there', async () => {
      const onAcme = await getBytes(`${certmint.directUrl}/console/login`, certmint.rootPem);
      expect(onAcme.status).toBe(404);
      const { page } = await open(adminOrigin);
      await signIn(page, `${adminOrigin}/console`, token);
      await openConsolePage(page, `${adminOrigin}/console/`);
      await vi.waitFor(async () => expect(await drawnCanvases(page)).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 50 });
      await assertAccessible(page, 'the overview on admin.listen');
    });
  });
});
