import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PublishedCrl } from '../../crl/crl-publisher.js';
import type { CertificateAuthority } from '../../ca/types.js';
import { leafCrlIssuer, rootCrlIssuer, type CrlIssuer } from '../../ledger/ledger.js';
import { ledgerNotReadyReason } from '../../ledger/storage-failure.js';
import type { AcmeUrls } from '../urls.js';

export interface PublicRouteOptions {
  readonly ca: CertificateAuthority;
  readonly urls: AcmeUrls;
  /** Resolves when the ledger answers; /ready fails while it throws. */
  readonly ready: () => Promise<void>;
  /** The latest published CRL of an issuer, if any. */
  readonly crl: (issuer: CrlIssuer) => PublishedCrl | undefined;
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

/** "2", "3", …: generation 1 has its own URLs (/crl, /intermediate.der), so "1" is not one. */
function generationParam(text: string): number | undefined {
  return /^[1-9][0-9]{0,5}$/.test(text) && text !== '1' ? Number(text) : undefined;
}

function notFound(reply: FastifyReply) {
  return reply.code(404).type('text/plain').send('no such intermediate generation\n');
}

function sendCertificate(reply: FastifyReply, der: Uint8Array) {
  return reply.type('application/pkix-cert').header('Cache-Control', 'public, max-age=3600').send(Buffer.from(der));
}

/** Unauthenticated GETs outside ACME: the trust bundle, the AIA issuer, liveness and readiness. */
export async function publicRoutes(app: FastifyInstance, { ca, ready, crl }: PublicRouteOptions): Promise<void> {
  // The CRL distribution point of generation 1's leaves, and the root's CRL of intermediates.
  app.get('/crl', async (request, reply) => sendCrl(request, reply, crl('intermediate')));
  app.get('/crl/root', async (request, reply) =>
    // Under an external root (certmint ca import) the root's holder publishes its CRL, not certmint.
    ca.roots.some((r) => r.generation === 1 && !r.keyHeld)
      ? reply.code(404).type('text/plain').send('this CA runs under an external root; its CRL is published by the root\'s operator\n')
      : sendCrl(request, reply, crl('root')),
  );
  // Root n >= 2 (certmint ca rotate-root) signs its own CRL of intermediates at /crl/root/<n>.
  app.get<{ Params: { generation: string } }>('/crl/root/:generation', async (request, reply) => {
    const generation = generationParam(request.params.generation);
    if (generation === undefined || !ca.roots.some((r) => r.generation === generation)) {
      return reply.code(404).type('text/plain').send('no such root\n');
    }
    return sendCrl(request, reply, crl(rootCrlIssuer(generation)));
  });
  // Leaves of generation n >= 2 (certmint ca rotate-intermediate) point at /crl/<n>.
  app.get<{ Params: { generation: string } }>('/crl/:generation', async (request, reply) => {
    const generation = generationParam(request.params.generation);
    if (generation === undefined || !ca.generations.some((g) => g.generation === generation)) return notFound(reply);
    return sendCrl(request, reply, crl(leafCrlIssuer(generation)));
  });
  // What clients trust before their first request (`curl <server>/roots.pem`, cert-manager caBundle):
  // every root, oldest first (after certmint ca rotate-root, the old and the new).
  app.get('/roots.pem', async (_req, reply) =>
    reply.type('application/pem-certificate-chain').header('Cache-Control', 'public, max-age=3600').send(ca.rootsPem),
  );
  // RFC 5280 §4.2.2.1 caIssuers: a single DER certificate.
  // Generation 1's leaves name /intermediate.der; those of generation n >= 2 /intermediate/<n>.der.
  const generationOne = ca.generations.find((g) => g.generation === 1);
  app.get('/intermediate.der', async (_req, reply) =>
    generationOne ? sendCertificate(reply, generationOne.der) : notFound(reply),
  );
  app.get<{ Params: { file: string } }>('/intermediate/:file', async (request, reply) => {
    const m = /^([0-9]+)\.der$/.exec(request.params.file);
    const generation = m ? generationParam(m[1]!) : undefined;
    const found = ca.generations.find((g) => g.generation === generation);
    return found ? sendCertificate(reply, found.der) : notFound(reply);
  });
  app.get('/health', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/ready', async (request, reply) => {
    try {
      await ready();
      return reply.send({ status: 'ready' });
    } catch (e) {
      request.log.warn({ err: e }, 'not ready');
      return reply.code(503).send({ status: 'unavailable', detail: ledgerNotReadyReason(e) });
    }
  });
}
