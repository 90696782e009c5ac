import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { CaCertificates } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import type { PublishedCrl } from '../crl/crl-publisher.js';
import type { CrlIssuer } from '../ledger/ledger.js';
import { observeRequests, type HttpMetrics } from './routes/metrics.js';
import { publicationRoutes } from './routes/public.js';
import { AcmeUrls } from './urls.js';

export interface PublicationServerOptions {
  readonly ca: CaCertificates;
  /** publication.baseUrl: its path is the prefix of the routes, as server.baseUrl's is on the HTTPS listener. */
  readonly baseUrl: string;
  readonly crl: (issuer: CrlIssuer) => PublishedCrl | undefined;
  readonly clock: Clock;
  /** Requests counted with the HTTPS listener's (same route labels); /metrics itself stays on HTTPS. */
  readonly metrics?: HttpMetrics;
  /** The options of http.createServer (connection bounds) and fastify's own. */
  readonly fastify?: FastifyServerOptions & { http?: import('node:http').ServerOptions };
}

const NOT_PUBLISHED =
  'not found: this plain-HTTP listener (publication.listen) serves only /crl..., /intermediate..., /root... and /roots.pem; ACME and the probes are on the HTTPS listener\n';

/**
 * The plain-HTTP listener of publication.listen: CRLs and CA certificates for relying parties that
 * must not need TLS to check a chain (RFC 5280 §4.2.1.13, §4.2.2.1; the CA/Browser Forum profiles
 * ask for http:// there). Nothing else: no ACME (it needs TLS, RFC 8555 §6.1), no /metrics, and no
 * /health or /ready either: those are the operator's probes of the HTTPS listener, and /ready
 * writes to the ledger, which an anonymous client of this port must not be able to cause at will.
 * A probe of this listener fetches /roots.pem.
 */
export async function createPublicationServer(o: PublicationServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...(o.fastify?.loggerInstance ? {} : { logger: false }), ...o.fastify } as FastifyServerOptions);
  if (o.metrics) observeRequests(app, o.metrics);
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/plain').send(NOT_PUBLISHED));
  await app.register(publicationRoutes, { prefix: new AcmeUrls(o.baseUrl).prefix, ca: o.ca, crl: o.crl, clock: o.clock });
  return app;
}
