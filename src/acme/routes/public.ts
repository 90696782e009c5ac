import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PublishedCrl } from '../../crl/crl-publisher.js';
import type { CertificateAuthority } from '../../ca/types.js';
import type { AcmeUrls } from '../urls.js';

export interface PublicRouteOptions {
  readonly ca: CertificateAuthority;
  readonly urls: AcmeUrls;
  /** Resolves when the ledger answers; /ready fails while it throws. */
  readonly ready: () => Promise<void>;
  /** The latest published CRL of an issuer, if any. */
  readonly crl: (issuer: 'intermediate' | 'root') => PublishedCrl | undefined;
}

/** RFC 5280 CRL over HTTP: DER, cacheable until nextUpdate, revalidated by ETag (the CRL number). */
function sendCrl(request: FastifyRequest, reply: FastifyReply, crl: PublishedCrl | undefined) {
  if (!crl) {
    return reply.code(503).header('Retry-After', '5').type('text/plain').send('the CRL is being generated; retry shortly\n');
  }
  const etag = `"${crl.crlNumber.toString(16)}"`;
  const maxAge = Math.max(0, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000));
  reply
    .header('ETag', etag)
    .header('Last-Modified', crl.thisUpdate.toUTCString())
    .header('Expires', crl.nextUpdate.toUTCString())
    .header('Cache-Control', `public, max-age=${maxAge}, must-revalidate`);
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type('application/pkix-crl').send(Buffer.from(crl.der));
}

/** Unauthenticated GETs outside ACME: the trust bundle, the AIA issuer, liveness and readiness. */
export async function publicRoutes(app: FastifyInstance, { ca, ready, crl }: PublicRouteOptions): Promise<void> {
  // The leaves' CRL distribution point, and the root's CRL of intermediates.
  app.get('/crl', async (request, reply) => sendCrl(request, reply, crl('intermediate')));
  app.get('/crl/root', async (request, reply) => sendCrl(request, reply, crl('root')));
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
