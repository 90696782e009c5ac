import { expect } from 'vitest';
import type { TestAcmeApp } from './acme-app.js';

/** A signed-in console session: its cookie, and its CSRF token as the pages carry it. */
export interface ConsoleSignIn {
  readonly cookie: string;
  readonly csrf: string;
}

export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' } as const;

/** Signs in through the console's form, as a browser does (console-app.test.ts checks the details). */
export async function signInConsole(t: TestAcmeApp, token: string): Promise<ConsoleSignIn> {
  const res = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM_HEADERS, payload: new URLSearchParams({ token }).toString() });
  expect(res.statusCode, res.body).toBe(303);
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  const overview = await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie } });
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(overview.body)?.[1];
  expect(csrf).toBeTruthy();
  return { cookie, csrf: csrf! };
}

/** What every console page must be under the strict CSP: no inline style or script, no handler attributes. */
export function expectCspClean(body: string): void {
  expect(body).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  // The only inline <script> elements are JSON data blocks (never executed).
  for (const m of body.matchAll(/<script\b([^>]*)>/g)) expect(m[1]).toMatch(/type="application\/json"|src="/);
}
