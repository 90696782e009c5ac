import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestAcmeApp } from './acme-app.js';

// A signed-in console session through inject, and the checks every console page must pass: the
// console's pages are exercised as a browser without JavaScript uses them (GET pages, form POSTs).

export interface ConsoleSession {
  readonly cookie: string;
  readonly csrf: string;
  /** GET a console page with this session. */
  get(url: string): Promise<LightMyRequestResponse>;
  /** POST a form with this session; its CSRF token is added unless `csrf: false`. */
  post(url: string, fields?: Record<string, string>, opts?: { csrf?: boolean }): Promise<LightMyRequestResponse>;
}

export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

export async function signIn(t: TestAcmeApp, token: string): Promise<ConsoleSession> {
  const res = await t.app.inject({ method: 'POST', url: '/console/login', headers: FORM_HEADERS, payload: new URLSearchParams({ token }).toString() });
  expect(res.statusCode, res.body).toBe(303);
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  const overview = await t.app.inject({ method: 'GET', url: '/console/', headers: { cookie } });
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(overview.body)?.[1];
  expect(csrf).toBeTruthy();
  const inject = (o: InjectOptions) => t.app.inject(o);
  return {
    cookie,
    csrf: csrf!,
    get: (url) => inject({ method: 'GET', url, headers: { cookie } }),
    post: (url, fields = {}, opts = {}) =>
      inject({
        method: 'POST',
        url,
        headers: { ...FORM_HEADERS, cookie },
        payload: new URLSearchParams({ ...fields, ...(opts.csrf === false ? {} : { _csrf: csrf! }) }).toString(),
      }),
  };
}

/** A console page as the CSP and the layout require it: one h1, no inline script or style, no handler attributes. */
export function expectCleanPage(body: string, where: string): void {
  expect(body.match(/<h1[\s>]/g), where).toHaveLength(1);
  expect(body, where).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  // The one script is the built bundle (src, defer); a JSON data block is never executed.
  for (const tag of body.match(/<script[^>]*>/g) ?? []) expect(tag, where).toMatch(/^<script (src="[^"]+" defer|type="application\/json" id="[^"]+")>$/);
}

/** The forms on a page that change something, other than signing out. */
export function actionForms(body: string): string[] {
  return (body.match(/<form method="post" action="[^"]+"/g) ?? []).filter((f) => !f.endsWith('/logout"'));
}
