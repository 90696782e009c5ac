import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import { ADMIN_API_PREFIX, adminApi, type AdminApiOptions } from './admin-api.js';
import { loadConsoleAssets, type ConsoleAssets } from './console/assets.js';
import { consoleApp } from './console/console-app.js';
import { CONSOLE_PAGES } from './console/pages.js';
import { DEFAULT_SESSION_LIMITS } from '../ra/admin-sessions.js';
import { LoginThrottle } from './sessions.js';
import { SummaryCache } from './summary-routes.js';

/** Where the console lives under a listener's base path. */
export const CONSOLE_PREFIX = '/console';

export interface AdminOptions extends AdminApiOptions {
  /** The console's built assets; by default those `npm run build` wrote (dist/console/assets). */
  readonly consoleAssets?: ConsoleAssets;
  readonly throttle?: LoginThrottle;
}

/**
 * The admin API (`prefix`/api/v1) and the console (`prefix`/console) on one app, sharing the
 * console's sessions: the API accepts the console's cookie (with its CSRF token) as well as bearer tokens.
 */
export async function registerAdmin(app: FastifyInstance, prefix: string, o: AdminOptions): Promise<void> {
  const sessions = o.sessions ?? DEFAULT_SESSION_LIMITS;
  const throttle = o.throttle ?? new LoginThrottle(o.clock);
  // One cache for the API's summary and the console's overview: one computation serves both.
  const summary = o.summary ?? new SummaryCache(o);
  await app.register(adminApi, { prefix: `${prefix}${ADMIN_API_PREFIX}`, ...o, sessions, summary });
  const site = { base: `${prefix}${CONSOLE_PREFIX}`, api: `${prefix}${ADMIN_API_PREFIX}`, assets: o.consoleAssets ?? loadConsoleAssets() };
  // The console signs in with a token: a client certificate (sent by a browser on its own) never opens it.
  await app.register(consoleApp, { prefix: site.base, ...o, clientCertificates: false, sessions, throttle, summary, site, cookiePath: prefix === '' ? '/' : prefix, pages: CONSOLE_PAGES });
}

export interface AdminServerOptions extends AdminOptions {
  /** https: the server's TLS key and certificate (server.tls); absent, plain HTTP as the ACME listener is then. */
  readonly fastify?: FastifyServerOptions & { https?: import('node:https').ServerOptions | null; http?: import('node:http').ServerOptions };
}

/**
 * The listener of admin.listen: the admin API at /api/v1/ and the console at /console/, nothing else, so it can be bound to
 * an internal address while ACME is reachable more widely. Its paths have no base path: operators
 * reach it directly, not through server.baseUrl.
 */
export async function createAdminServer(o: AdminServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...(o.fastify?.loggerInstance ? {} : { logger: false }), frameworkErrors: o.problems.errorHandler, ...o.fastify } as FastifyServerOptions);
  app.setNotFoundHandler((request, reply) =>
    o.problems.send(reply, new AcmeProblem('malformed', `not found: this listener (admin.listen) serves only the admin API under ${ADMIN_API_PREFIX}/ and the console under ${CONSOLE_PREFIX}/`, { status: 404 })),
  );
  await registerAdmin(app, '', o);
  return app;
}
