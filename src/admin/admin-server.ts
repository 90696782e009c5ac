import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AcmeProblem } from '../core/problem.js';
import { ADMIN_API_PREFIX, registerAdminApi, type AdminApiOptions } from './admin-api.js';

export interface AdminServerOptions extends AdminApiOptions {
  /** https: the server's TLS key and certificate (server.tls); absent, plain HTTP as the ACME listener is then. */
  readonly fastify?: FastifyServerOptions & { https?: import('node:https').ServerOptions | null; http?: import('node:http').ServerOptions };
}

/**
 * The listener of admin.listen: the admin API at /api/v1/ and nothing else, so it can be bound to
 * an internal address while ACME is reachable more widely. Its paths have no base path: operators
 * reach it directly, not through server.baseUrl.
 */
export async function createAdminServer(o: AdminServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...(o.fastify?.loggerInstance ? {} : { logger: false }), frameworkErrors: o.problems.errorHandler, ...o.fastify } as FastifyServerOptions);
  app.setNotFoundHandler((request, reply) =>
    o.problems.send(reply, new AcmeProblem('malformed', `not found: this listener (admin.listen) serves only the admin API under ${ADMIN_API_PREFIX}/`, { status: 404 })),
  );
  await registerAdminApi(app, '', o);
  return app;
}
