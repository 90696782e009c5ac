import type { FastifyRequest } from 'fastify';
import type { AdminPrincipal } from '../../ra/admin-certificates.js';
import type { ConsoleSession } from '../../ra/admin-sessions.js';
import type { ConsoleAssets } from './assets.js';
import { html, type Html } from './html.js';

/** The console's sections, in the order the navigation shows them; `path` is under the console's base. */
export const SECTIONS = [
  { id: 'overview', path: '/', label: 'Overview' },
  { id: 'certificates', path: '/certificates', label: 'Certificates' },
  { id: 'accounts', path: '/accounts', label: 'Accounts' },
  { id: 'eab-keys', path: '/eab-keys', label: 'EAB keys' },
  { id: 'ca', path: '/ca', label: 'CA' },
  { id: 'audit', path: '/audit', label: 'Audit log' },
  { id: 'notifications', path: '/notifications', label: 'Notifications' },
] as const;
export type SectionId = (typeof SECTIONS)[number]['id'];

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session behind this page (console routes only). */
    consoleSession: ConsoleSession | null;
  }
}

/** What every page needs from the console: where it lives and its built assets. */
export interface ConsoleSite {
  /** The console's path prefix, e.g. "/console" or "/acme-base/console". */
  readonly base: string;
  /** The admin API's path prefix, e.g. "/api/v1". */
  readonly api: string;
  readonly assets: ConsoleAssets | undefined;
}

function head(site: ConsoleSite, title: string, csrf: string | undefined): Html {
  const a = site.assets;
  return html`<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}'>
${csrf !== undefined && html`<meta name="csrf-token" content="${csrf}">`}
<title>${title} · certmint</title>
${a && html`<link rel="stylesheet" href="${site.base}/assets/${a.stylesheet}">`}
${a && html`<script src="${site.base}/assets/${a.script}" defer></script>`}`;
}

export interface PageParts {
  readonly title: string;
  readonly section: SectionId;
  readonly body: Html;
}

/** A whole console page: navigation, who is signed in (and a sign-out form), then the body. */
export function page(site: ConsoleSite, request: FastifyRequest, parts: PageParts): string {
  const admin: AdminPrincipal = request.admin!;
  const csrf = request.consoleSession?.csrf;
  return (
    '<!doctype html>\n' +
    html`<html lang="en">
<head>${head(site, parts.title, csrf)}</head>
<body hx-boost="false">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="${site.base}/">certmint</a>
  <nav class="sections" aria-label="Sections"><ul>
    ${SECTIONS.map((s) => html`<li><a href="${site.base}${s.path}"${s.id === parts.section ? html` aria-current="page"` : ''}>${s.label}</a></li>`)}
  </ul></nav>
  <div class="who">
    <span>${admin.name} <span class="muted">(${admin.role})</span></span>
    ${csrf !== undefined &&
    html`<form method="post" action="${site.base}/logout"><input type="hidden" name="_csrf" value="${csrf}"><button class="secondary" type="submit">Sign out</button></form>`}
  </div>
</header>
<main id="main">
<h1>${parts.title}</h1>
${parts.body}
</main>
</body>
</html>
`.text
  );
}

/** A page outside the signed-in frame (sign-in, errors before a session exists). */
export function barePage(site: ConsoleSite, title: string, body: Html): string {
  return '<!doctype html>\n' + html`<html lang="en"><head>${head(site, title, undefined)}</head><body><main id="main" class="login">${body}</main></body></html>\n`.text;
}

/** The hidden field every console form that changes something carries. */
export function csrfField(request: FastifyRequest): Html {
  return html`<input type="hidden" name="_csrf" value="${request.consoleSession?.csrf ?? ''}">`;
}
