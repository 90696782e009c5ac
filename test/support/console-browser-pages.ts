import type { Page } from 'playwright-core';
import { expect } from 'vitest';

// What test/e2e/console-browser.test.ts looks for on console pages, by the names of the console's
// markup contract (roles and accessible names, as a person using a screen reader finds them).

/** A waitForURL predicate: the page is at `pathname`, whatever its query (a notice's `?done=…`). */
export const atPath = (pathname: string) => (url: URL) => url.pathname === pathname;

/** Whether a uPlot canvas has anything drawn on it (a non-transparent pixel). */
export async function drawnCanvases(page: Page): Promise<number> {
  const canvases = page.locator('.uplot canvas');
  let drawn = 0;
  for (const canvas of await canvases.all()) {
    const painted = await canvas.evaluate((c: HTMLCanvasElement) => {
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) return false;
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    });
    if (painted) drawn++;
  }
  return drawn;
}

export const SECTION_LINKS = ['Overview', 'Certificates', 'Accounts', 'EAB keys', 'CA', 'Audit log', 'Notifications'];
/** What only an operator may do, by role and accessible name (docs: the console markup contract). */
const OPERATOR_LINKS = ['Revoke…'];
const OPERATOR_BUTTONS = ['Revoke certificate', 'Renew early', 'Create EAB key', 'Revoke', 'Deactivate account', 'Deactivate', 'Retry'];
const exactly = (names: readonly string[]) => new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`);

/** The operator-only actions on the page, by name (two lookups, not one per action). */
export async function actionsOn(page: Page): Promise<string[]> {
  const links = await page.getByRole('link', { name: exactly(OPERATOR_LINKS) }).allInnerTexts();
  const buttons = await page.getByRole('button', { name: exactly(OPERATOR_BUTTONS) }).allInnerTexts();
  return [...links, ...buttons].map((t) => t.trim());
}

/** A signed-in page as the contract has it: 200, one h1, every section in the navigation. */
export async function openConsolePage(page: Page, url: string): Promise<void> {
  const res = await page.goto(url);
  expect(res?.status(), `GET ${url}`).toBe(200);
  expect(await page.locator('h1').count(), `h1 on ${url}`).toBe(1);
  for (const name of SECTION_LINKS) expect(await page.getByRole('link', { name, exact: true }).count(), `nav link ${name} on ${url}`).toBeGreaterThan(0);
}
