import type { FastifyInstance } from 'fastify';
import type { CertificateAuthority } from '../../ca/types.js';
import type { AcmeUrls } from '../urls.js';

export interface PublicRouteOptions {
  readonly ca: CertificateAuthority;
  readonly urls: AcmeUrls;
  /** Resolves when the ledger answers; /ready fails while it throws. */
  readonly ready: () => Promise<void>;
}

/** Unauthenticated GETs outside ACME: the trust bundle, the AIA issuer, liveness and readiness. */
export async function publicRoutes(app: FastifyInstance, { ca, ready }: PublicRouteOptions): Promise<void> {
  // What clients trust before their first request (`curl <server>/roots.pem`, cert-manager caBundle).
  app.get('/roots.pem', async (_req, reply) =>
    reply.type('application/pem-certificate-chain').header('Cache-Control', 'public, max-age=3600').send(ca.rootsPem),
  );
  // RFC 5280 §4.2.2.1 caIssuers: a single DER certificate.
  app.get('/intermediate.der', async (_req, reply) =>
    reply.type('application/pkix-cert').header('Cache-Control', 'public, max-age=3600').send(Buffer.from(ca.intermediateDer)),
  );
  app.get('/health', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/ready', async (request, reply) => {
    try {
      await ready();
      return reply.send({ status: 'ready' });
    } catch (e) {
      request.log.warn({ err: e }, 'not ready');
      return reply.code(503).send({ status: 'unavailable', detail: (e as Error).message });
    }
  });
}
