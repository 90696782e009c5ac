import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { findOnPath, requireOrSkip } from './clients.js';

/**
 * The console in a real browser: Debian's chromium driven headless by playwright-core (never
 * playwright's own browser download, which cannot work on these machines). One browser per test
 * file, one context per role (contexts share no cookies), each with a guard that fails the test on
 * anything the page complains about.
 */

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where screenshots go (a CI artifact, ignored by git). */
export const SCREENSHOT_DIR = path.join(PACKAGE_ROOT, 'test-artifacts', 'console');

/** Whether chromium is there: skipped without it locally, an error under CERTMINT_REQUIRE_CLIENTS=1 (CI). */
export function requireChromiumOrSkip(): boolean {
  return requireOrSkip('chromium', 'apt-get install chromium');
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = findOnPath('chromium');
  if (executablePath === undefined) throw new Error('chromium is not on PATH (apt-get install chromium)');
  // Chromium refuses to start its sandbox as root, and CI runs as root; the pages it loads are
  // our own console on 127.0.0.1, never the open web.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}

export const DESKTOP = { viewport: { width: 1280, height: 800 }, isMobile: false } as const;
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;

export interface ContextOptions {
  /** The console's origin, e.g. https://localhost:41234: failed requests there fail the test. */
  readonly origin: string;
  readonly device?: typeof DESKTOP | typeof PHONE;
}

/** A browser context (one signed-in person) and its one page, watched for errors. */
export interface GuardedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /**
   * Runs `action` while console errors matching `expected` are allowed: Chromium logs every 4xx
   * answer to a fetch as an error, which a test of a refused request provokes on purpose.
   */
  allowingErrors<T>(expected: RegExp, action: () => Promise<T>): Promise<T>;
  /** What went wrong since the last call (console errors, page errors, failed requests, CSP violations), and forgets it. */
  takeProblems(): string[];
  /** Throws, listing them, when anything went wrong since the last call. */
  assertClean(): void;
}

const CSP_BINDING = '__certmintCspViolation';

export async function openGuardedPage(browser: Browser, options: ContextOptions): Promise<GuardedPage> {
  const device = options.device ?? DESKTOP;
  // The server's TLS certificate comes from the test's own CA, which chromium does not trust; the
  // connection is still real TLS (the console's cookie is Secure and needs it).
  const context = await browser.newContext({ ...device, ignoreHTTPSErrors: true, acceptDownloads: true });
  const problems: string[] = [];
  let allowed: RegExp | undefined;
  // An init script runs through DevTools, outside the page's CSP, before any of the page's own
  // script: it sees every violation, including those of inline script or style the CSP blocks.
  await context.exposeBinding(CSP_BINDING, (_source, text: string) => {
    problems.push(`CSP violation: ${text}`);
  });
  await context.addInitScript((binding: string) => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as Record<string, (text: string) => void>)[binding];
      report?.(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} on ${e.documentURI} (${e.sourceFile}:${e.lineNumber}) "${e.sample}"`);
    });
  }, CSP_BINDING);
  // Shorter than a test's own timeout, so a missing element fails with its name, not a bare timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const ours = (url: string): boolean => {
    try {
      return new URL(url).origin === options.origin;
    } catch {
      return false;
    }
  };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (allowed?.test(message.text())) return;
    const source = message.location().url;
    problems.push(`console error on ${page.url()}: ${message.text()}${source && source !== page.url() ? ` (${source})` : ''}`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.stack ?? error.message}`));
  page.on('requestfailed', (request) => {
    if (!ours(request.url())) return;
    const failure = request.failure()?.errorText ?? 'failed';
    // A link answered as an attachment becomes a download, and Chromium aborts its navigation.
    if (failure === 'net::ERR_ABORTED' && request.isNavigationRequest()) return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${failure}`);
  });
  page.on('response', (response) => {
    if (ours(response.url()) && response.status() >= 500) problems.push(`${response.status()} for ${response.request().method()} ${response.url()}`);
  });
  return {
    context,
    page,
    async allowingErrors(expected, action) {
      allowed = expected;
      try {
        return await action();
      } finally {
        allowed = undefined;
      }
    },
    takeProblems: () => problems.splice(0),
    assertClean() {
      const found = problems.splice(0);
      if (found.length > 0) throw new Error(`the console went wrong in the browser:\n  ${found.join('\n  ')}`);
    },
  };
}

/** Signs in through the form, as a person would, and waits for the page it lands on. */
export async function signIn(page: Page, consoleUrl: string, token: string): Promise<void> {
  await page.goto(`${consoleUrl}/login`);
  await page.getByLabel('Admin token').fill(token);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith('/login')), page.getByRole('button', { name: 'Sign in' }).click()]);
}

/**
 * Presses Tab until `target` has the focus (at most `limit` times): proves it is reachable by
 * keyboard, in the page's tab order.
 */
export async function tabTo(page: Page, target: Locator, limit = 60): Promise<void> {
  const handle = await target.elementHandle();
  if (handle === null) throw new Error(`tabTo: ${String(target)} is not on ${page.url()}`);
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await handle.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`${String(target)} was not reached in ${limit} presses of Tab on ${page.url()}`);
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeNode {
  readonly target: unknown[];
  readonly failureSummary?: string;
}
interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly helpUrl: string;
  readonly nodes: AxeNode[];
}

/**
 * axe-core in the page (evaluated through DevTools, which the page's CSP does not govern, where a
 * script tag with inline content would be blocked): the serious and critical violations, one
 * readable block each; empty when there are none.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const nodes = v.nodes.map((n) => `    at ${JSON.stringify(n.target)}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`);
      return `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n${nodes.join('\n')}`;
    });
}

/** Throws, listing them, when axe finds a serious or critical violation on the page. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const found = await seriousAccessibilityViolations(page);
  if (found.length > 0) throw new Error(`${what} (${page.url()}) has ${found.length} serious or critical accessibility violations:\n${found.join('\n')}`);
}

/** A whole-page screenshot, test-artifacts/console/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
