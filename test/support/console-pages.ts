import { expect } from 'vitest';
import type { TestAcmeApp } from './acme-app.js';
import { signIn } from './console-session.js';

/** A signed-in console session: its cookie, and its CSRF token as the pages carry it. */
export interface ConsoleSignIn {
  readonly cookie: string;
  readonly csrf: string;
}

export { FORM_HEADERS } from './console-session.js';

/** Signs in through the console's form, as a browser does (console-app.test.ts checks the details). */
export async function signInConsole(t: TestAcmeApp, token: string): Promise<ConsoleSignIn> {
  const { cookie, csrf } = await signIn(t, token);
  return { cookie, csrf };
}

/** What every console page must be under the strict CSP: no inline style or script, no handler attributes. */
export function expectCspClean(body: string): void {
  expect(body).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  // The only inline <script> elements are JSON data blocks (never executed).
  for (const m of body.matchAll(/<script\b([^>]*)>/g)) expect(m[1]).toMatch(/type="application\/json"|src="/);
}
