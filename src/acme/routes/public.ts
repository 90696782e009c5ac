import { X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PublishedCrl } from '../../crl/crl-publisher.js';
import type { CaKeyState } from '../../ca/key-provider.js';
import type { CaCertificates } from '../../ca/types.js';
import type { Clock } from '../../core/clock.js';
import { leafCrlIssuer, partitionCrlIssuer, rootCrlIssuer, type CrlIssuer } from '../../ledger/ledger.js';
import { ledgerNotReadyReason } from '../../ledger/storage-failure.js';
import { contentTag, prepareDocument, sendPrepared, type PreparedDocument } from '../conditional-get.js';
import type { AcmeUrls } from '../urls.js';

/** What the publication paths serve: the CA certificates and the published CRLs. */
export interface PublicationRouteOptions {
  readonly ca: CaCertificates;
  /** The latest published CRL of an issuer, if any. */
  readonly crl: (issuer: CrlIssuer) => PublishedCrl | undefined;
  /** The clock the CRLs were scheduled by: max-age counts down to their refresh on it. */
  readonly clock: Clock;
}

export interface PublicRouteOptions extends PublicationRouteOptions {
  readonly urls: AcmeUrls;
  /** Resolves when the ledger answers; /ready fails while it throws. */
  readonly ready: () => Promise<void>;
  /** Whether the CA's keys can sign; /ready fails with its reason while they cannot. */
  readonly keyState: () => CaKeyState;
}

/** Each published CRL prepared once (a new CRL is a new object, so the old one's goes with it). */
const preparedCrls = new WeakMap<PublishedCrl, PreparedDocument>();

/**
 * RFC 5280 CRL over HTTP: DER, revalidated by ETag (the CRL number) or Last-Modified (thisUpdate),
 * cacheable until the next scheduled CRL (crl.refresh). The body is the published CRL's own
 * bytes: /crl is the largest public answer, and a copy per request made parallel downloads
 * cost every other client.
 */
/** What a root whose key is kept offline (ca.offlineRoot) answers before its first CRL: no process here will sign one. */
const OFFLINE_ROOT_NO_CRL =
  "this root's key is kept offline (ca.offlineRoot) and no CRL of it has been signed yet: run certmint crl generate --root where the key is\n";

function sendCrl(request: FastifyRequest, reply: FastifyReply, crl: PublishedCrl | undefined, now: Date, missing?: string) {
  if (!crl) {
    if (missing !== undefined) return reply.code(503).type('text/plain').send(missing);
    return reply.code(503).header('Retry-After', '5').type('text/plain').send('the CRL is being generated; retry shortly\n');
  }
  let doc = preparedCrls.get(crl);
  if (!doc) {
    doc = prepareDocument(crl.der, `"${crl.crlNumber.toString(16)}"`, crl.thisUpdate);
    preparedCrls.set(crl, doc);
  }
  const maxAge = Math.max(0, Math.floor((crl.refreshAt.getTime() - now.getTime()) / 1000));
  return sendPrepared(request, reply, doc, {
    contentType: 'application/pkix-crl',
    cacheControl: `public, max-age=${maxAge}, must-revalidate`,
    expires: crl.nextUpdate.toUTCString(),
  });
}

/** "2", "3", …: generation 1 has its own URLs (/crl, /intermediate.der), so "1" is not one. */
function generationParam(text: string): number | undefined {
  return /^[1-9][0-9]{0,5}$/.test(text) && text !== '1' ? Number(text) : undefined;
}

/** "0" … "255": a CRL partition (crl.partitions), in its canonical spelling only. */
function partitionParam(text: string): number | undefined {
  return /^(?:0|[1-9][0-9]{0,2})$/.test(text) && Number(text) < 256 ? Number(text) : undefined;
}

function notFound(reply: FastifyReply) {
  return reply.code(404).type('text/plain').send('no such intermediate generation\n');
}

/** A CA certificate as a prepared document: tagged by its bytes, last modified when it became valid. */
function certificateDocument(der: Uint8Array): PreparedDocument {
  return prepareDocument(der, contentTag(der), new Date(new X509Certificate(der).validFrom));
}

const CA_CACHE_CONTROL = 'public, max-age=3600';

/** Unauthenticated GETs outside ACME: the publication paths, liveness and readiness. */
export async function publicRoutes(app: FastifyInstance, o: PublicRouteOptions): Promise<void> {
  await publicationRoutes(app, o);
  await probeRoutes(app, o);
}

/**
 * What relying parties fetch while checking a chain: CRLs (CRL distribution points), the CA
 * certificates (AIA caIssuers) and the trust bundle. The HTTPS listener and the plain-HTTP one
 * (publication.listen) both serve exactly these.
 */
export async function publicationRoutes(app: FastifyInstance, { ca, crl, clock }: PublicationRouteOptions): Promise<void> {
  const offlineRoot = (generation: number) => (ca.roots.some((r) => r.generation === generation && r.keyOffline) ? OFFLINE_ROOT_NO_CRL : undefined);
  // The CRL distribution point of generation 1's leaves, and the root's CRL of intermediates.
  app.get('/crl', async (request, reply) => sendCrl(request, reply, crl('intermediate'), clock.now()));
  app.get('/crl/root', async (request, reply) =>
    // Under an external root (certmint ca import) the root's holder publishes its CRL, not certmint.
    ca.roots.some((r) => r.generation === 1 && !r.keyHeld && !r.keyOffline)
      ? reply.code(404).type('text/plain').send('this CA runs under an external root; its CRL is published by the root\'s operator\n')
      : sendCrl(request, reply, crl('root'), clock.now(), offlineRoot(1)),
  );
  // Root n >= 2 (certmint ca rotate-root) signs its own CRL of intermediates at /crl/root/<n>.
  app.get<{ Params: { generation: string } }>('/crl/root/:generation', async (request, reply) => {
    const generation = generationParam(request.params.generation);
    if (generation === undefined || !ca.roots.some((r) => r.generation === generation)) {
      return reply.code(404).type('text/plain').send('no such root\n');
    }
    return sendCrl(request, reply, crl(rootCrlIssuer(generation)), clock.now(), offlineRoot(generation));
  });
  // Leaves of generation n >= 2 (certmint ca rotate-intermediate) point at /crl/<n>.
  app.get<{ Params: { generation: string } }>('/crl/:generation', async (request, reply) => {
    const generation = generationParam(request.params.generation);
    if (generation === undefined || !ca.generations.some((g) => g.generation === generation)) return notFound(reply);
    return sendCrl(request, reply, crl(leafCrlIssuer(generation)), clock.now());
  });
  // Leaves issued with crl.partitions > 1 point at /crl/<generation>/<partition>, generation 1 included.
  // Not published here yet (a partition another instance issued into first): 503, retried, as /crl/<n>.
  app.get<{ Params: { generation: string; partition: string } }>('/crl/:generation/:partition', async (request, reply) => {
    const generation = /^[1-9][0-9]{0,5}$/.test(request.params.generation) ? Number(request.params.generation) : undefined;
    const partition = partitionParam(request.params.partition);
    if (generation === undefined || partition === undefined || !ca.generations.some((g) => g.generation === generation)) return notFound(reply);
    return sendCrl(request, reply, crl(partitionCrlIssuer(generation, partition)), clock.now());
  });
  // What clients trust before their first request (`curl <server>/roots.pem`, cert-manager caBundle):
  // every root, oldest first (after certmint ca rotate-root, the old and the new).
  // The CA documents are fixed for the life of the process (a new generation needs a restart).
  const rootsBytes = Buffer.from(ca.rootsPem);
  const rootsDoc = prepareDocument(
    rootsBytes,
    contentTag(rootsBytes),
    // Last modified when the newest root became valid (certmint ca rotate-root adds one).
    new Date(Math.max(0, ...ca.roots.map((r) => Date.parse(new X509Certificate(r.pem).validFrom)))),
  );
  app.get('/roots.pem', async (request, reply) =>
    sendPrepared(request, reply, rootsDoc, { contentType: 'application/pem-certificate-chain', cacheControl: CA_CACHE_CONTROL }),
  );
  // RFC 5280 §4.2.2.1 caIssuers: a single DER certificate.
  // Generation 1's leaves name /intermediate.der; those of generation n >= 2 /intermediate/<n>.der.
  const intermediates = new Map(ca.generations.map((g) => [g.generation, certificateDocument(g.der)]));
  const sendIntermediate = (request: FastifyRequest, reply: FastifyReply, generation: number | undefined) => {
    const doc = generation === undefined ? undefined : intermediates.get(generation);
    return doc ? sendPrepared(request, reply, doc, { contentType: 'application/pkix-cert', cacheControl: CA_CACHE_CONTROL }) : notFound(reply);
  };
  app.get('/intermediate.der', async (request, reply) => sendIntermediate(request, reply, 1));
  app.get<{ Params: { file: string } }>('/intermediate/:file', async (request, reply) => {
    const m = /^([0-9]+)\.der$/.exec(request.params.file);
    return sendIntermediate(request, reply, m ? generationParam(m[1]!) : undefined);
  });
  // The caIssuers of certmint's intermediates (rootUrlsOf): root 1 at /root.der, root n >= 2 at /root/<n>.der.
  const roots = new Map(ca.roots.map((r) => [r.generation, certificateDocument(new X509Certificate(r.pem).raw)]));
  const sendRoot = (request: FastifyRequest, reply: FastifyReply, generation: number | undefined) => {
    const doc = generation === undefined ? undefined : roots.get(generation);
    return doc
      ? sendPrepared(request, reply, doc, { contentType: 'application/pkix-cert', cacheControl: CA_CACHE_CONTROL })
      : reply.code(404).type('text/plain').send('no such root\n');
  };
  app.get('/root.der', async (request, reply) => sendRoot(request, reply, 1));
  app.get<{ Params: { file: string } }>('/root/:file', async (request, reply) => {
    const m = /^([0-9]+)\.der$/.exec(request.params.file);
    return sendRoot(request, reply, m ? generationParam(m[1]!) : undefined);
  });
}

/** Liveness and readiness: for the operator's probes, on the HTTPS listener only. */
async function probeRoutes(app: FastifyInstance, { ready, keyState }: Pick<PublicRouteOptions, 'ready' | 'keyState'>): Promise<void> {
  app.get('/health', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/ready', async (request, reply) => {
    try {
      await ready();
    } catch (e) {
      request.log.warn({ err: e }, 'not ready');
      return reply.code(503).send({ status: 'unavailable', detail: ledgerNotReadyReason(e) });
    }
    // Issuance and revocation answer 503 while a CA key cannot sign: a balancer should send elsewhere.
    const keys = keyState();
    if (!keys.ready) {
      request.log.warn(`not ready: the CA key is unavailable: ${keys.reason}`);
      return reply.code(503).send({ status: 'unavailable', detail: `the CA key is unavailable: ${keys.reason}` });
    }
    return reply.send({ status: 'ready' });
  });
}
