import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import type { AdminApiOptions } from '../admin-api.js';
import { isAdminToken } from '../../ra/admin-certificates.js';
import { authenticateRequest, sessionOf } from '../authenticate.js';
import type { SessionLimits } from '../../ra/admin-sessions.js';
import { CSRF_FIELD, LoginThrottle, SESSION_COOKIE } from '../sessions.js';
import type { SummaryCache } from '../summary-routes.js';
import { html } from './html.js';
import { barePage, type ConsoleSite } from './layout.js';

export interface ConsoleOptions extends AdminApiOptions {
  readonly sessions: SessionLimits;
  readonly throttle: LoginThrottle;
  readonly site: ConsoleSite;
  /** Where the session cookie is sent: the listener's base path, so both /console and /api/v1 get it. */
  readonly cookiePath: string;
  /** The overview's figures: the same cache as GET /api/v1/summary. */
  readonly summary: SummaryCache;
}

/** A group of console pages: registered inside the signed-in scope (request.admin is set). */
export type ConsolePages = (app: FastifyInstance, o: ConsoleOptions) => Promise<void>;

/**
 * Every console answer: no script, style, frame or connection from anywhere but this origin, no
 * inline script or style (htmx and uPlot are configured for it: console/client/app.ts), never
 * framed, no referrer sent to another site (same-origin: a form post must still carry its Origin,
 * or the same-origin check below would refuse it). Pages are never cached: they show the ledger as it is.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** A form body's fields (application/x-www-form-urlencoded); a repeated field keeps its last value. */
export type FormBody = Record<string, string>;

/** A POST from another origin (a browser always sends Origin on one) is refused before anything else. */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** Where to go after signing in: only a path inside the console, never another site. */
function nextPath(site: ConsoleSite, next: unknown): string {
  if (typeof next === 'string' && next.startsWith(`${site.base}/`) && !next.startsWith('//') && !/[\\\r\n]/.test(next)) return next;
  return `${site.base}/`;
}

function loginPage(o: ConsoleOptions, opts: { next?: string; error?: string }): string {
  const { site } = o;
  return barePage(
    site,
    'Sign in',
    html`<h1>certmint console</h1>
<div class="panel">
${opts.error !== undefined && html`<p class="notice error" role="alert">${opts.error}</p>`}
<form method="post" action="${site.base}/login">
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required spellcheck="false" placeholder="cm_admin_…">
  ${opts.next !== undefined && html`<input type="hidden" name="next" value="${opts.next}">`}
  <button type="submit">Sign in</button>
</form>
<p class="muted">Create a token with <code>certmint admin token create --name NAME --role viewer|operator</code>.</p>
</div>`,
  );
}

function sessionCookie(o: ConsoleOptions, value: string, maxAge?: number): string {
  return `${SESSION_COOKIE}=${value}; Path=${o.cookiePath}; HttpOnly; Secure; SameSite=Strict${maxAge !== undefined ? `; Max-Age=${maxAge}` : ''}`;
}

/** An error as a console page (the API's problem detail, in the page's words). */
function errorPage(o: ConsoleOptions, status: number, detail: string): string {
  return barePage(o.site, 'Error', html`<h1>${status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Something went wrong'}</h1>
<p class="notice error" role="alert">${detail}</p>
<p><a href="${o.site.base}/">Back to the overview</a></p>`);
}

/**
 * The web console (docs/console-and-admin-api.md): server-rendered pages under /console/, signed
 * in with an admin token that becomes a session cookie (HttpOnly, Secure, SameSite=Strict, idle
 * timeout); every form that changes something carries the session's CSRF token; sign-in failures
 * are rate limited per address. Actions go through the same ra/ use cases as the API and the CLI.
 */
export async function consoleApp(app: FastifyInstance, o: ConsoleOptions & { pages: readonly ConsolePages[] }): Promise<void> {
  app.decorateRequest('admin', null);
  app.decorateRequest('consoleSession', null);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    const fields: FormBody = {};
    for (const [k, v] of new URLSearchParams(body as string)) fields[k] = v;
    done(null, fields);
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(CONSOLE_SECURITY_HEADERS);
    if (!request.url.startsWith(`${o.site.base}/assets/`)) reply.header('Cache-Control', 'no-store');
    if (!SAFE_METHODS.has(request.method) && !sameOrigin(request)) {
      throw new AcmeProblem('unauthorized', 'this request came from another site (its Origin header is not this console\'s)', { status: 403 });
    }
  });
  app.setErrorHandler((error: Error, request, reply) => {
    if (!(error instanceof AcmeProblem)) return o.problems.errorHandler(error, request, reply);
    // A page asked for without a live session: to the sign-in form, and back here after it.
    if (error.status === 401 && request.method === 'GET') {
      return reply.redirect(`${o.site.base}/login?next=${encodeURIComponent(request.url)}`, 303);
    }
    return reply.code(error.status).type('text/html; charset=utf-8').send(errorPage(o, error.status, error.detail));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).type('text/html; charset=utf-8').send(errorPage(o, 404, `There is no console page at ${request.url.split('?')[0]}.`)));

  app.get('/assets/:name', async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const asset = o.site.assets?.files.get(request.params.name);
    if (!asset) throw new AcmeProblem('malformed', `no console asset named ${request.params.name}`, { status: 404 });
    reply.header('Cache-Control', 'public, max-age=31536000, immutable').header('Vary', 'Accept-Encoding').type(asset.type);
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('Content-Encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  });

  app.get('/login', async (request: FastifyRequest<{ Querystring: { next?: string } }>, reply) => {
    return reply.type('text/html; charset=utf-8').send(loginPage(o, { next: nextPath(o.site, request.query.next) }));
  });

  app.post('/login', async (request: FastifyRequest<{ Body: FormBody | undefined }>, reply) => {
    const address = request.ip;
    const wait = o.throttle.retryAfter(address);
    const next = nextPath(o.site, request.body?.next);
    if (wait > 0) {
      return reply
        .code(429)
        .header('Retry-After', String(wait))
        .type('text/html; charset=utf-8')
        .send(loginPage(o, { next, error: `Too many failed sign-ins from this address: try again in ${wait} seconds.` }));
    }
    const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
    let admin;
    try {
      admin = await o.ra.authenticateAdmin(`Bearer ${token}`);
    } catch (error) {
      if (!(error instanceof AcmeProblem) || error.status !== 401) throw error;
      o.throttle.fail(address);
      request.log.warn({ address }, 'console sign-in refused');
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage(o, { next, error: `That token was not accepted: ${error.detail}.` }));
    }
    const { id } = await o.ra.startConsoleSession(admin, o.sessions);
    request.log.info({ admin: admin.name }, 'console sign-in');
    return reply.header('Set-Cookie', sessionCookie(o, id)).redirect(next, 303);
  });

  app.post('/logout', async (request: FastifyRequest<{ Body: FormBody | undefined }>, reply) => {
    const found = await sessionOf(o, request);
    if (found) {
      // Only with the session's CSRF token: another site must not be able to sign anyone out.
      await authenticateRequest(o, request, request.body?.[CSRF_FIELD]);
      await o.ra.endConsoleSession(found.id);
    }
    return reply.header('Set-Cookie', sessionCookie(o, '', 0)).redirect(`${o.site.base}/login`, 303);
  });

  // The signed-in pages: a live session (else the sign-in form), its token still active, and on
  // anything but GET the session's CSRF token (form field or header).
  await app.register(async (pages) => {
    pages.addHook('preHandler', async (request: FastifyRequest<{ Body: FormBody | undefined }>) => {
      // A page is only ever shown to a live session (its token still active: ra/admin-sessions.ts).
      const found = await sessionOf(o, request);
      if (!found) throw new AcmeProblem('unauthorized', 'sign in first', { status: 401 });
      const body = request.body as FormBody | undefined;
      request.admin = await authenticateRequest(o, request, body?.[CSRF_FIELD]);
      request.consoleSession = found;
    });
    pages.addHook('onResponse', async (request, reply) => {
      if (request.admin && isAdminToken(request.admin) && reply.statusCode < 400) await o.ra.noteAdminTokenUse(request.admin).catch(() => undefined);
    });
    for (const register of o.pages) await register(pages, o);
  });
}
