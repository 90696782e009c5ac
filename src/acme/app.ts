import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { CaCertificates } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import type { PublishedCrl } from '../crl/crl-publisher.js';
import type { CrlIssuer } from '../ledger/ledger.js';
import type { AcmeLedger, AcmeUseCases, DirectoryMeta, RouteContext } from './context.js';
import { boundRequestBodies } from './body-timeout.js';
import { JwsVerifier, verifyJwsOnRoutes } from './jws.js';
import { KeyOutageLog, problemErrorHandler, sendProblem, signingProblemHandler } from './problem-handler.js';
import { accountRoutes } from './routes/account.js';
import { authorizationRoutes } from './routes/authorization.js';
import { certificateRoutes } from './routes/certificate.js';
import { directoryRoutes } from './routes/directory.js';
import { orderRoutes } from './routes/order.js';
import { publicRoutes } from './routes/public.js';
import { keyChangeRoutes } from './routes/key-change.js';
import { metricsRoutes, observeRequests, type HttpMetrics } from './routes/metrics.js';
import { renewalInfoRoutes } from './routes/renewal-info.js';
import { revocationRoutes } from './routes/revocation.js';
import { AcmeUrls } from './urls.js';

// Narrow views, not the objects the composition root holds: acme/ cannot sign, and it writes to
// the ledger only through ra/ (AcmeLedger says what it still writes and why).
export interface AcmeServerOptions {
  readonly ra: AcmeUseCases;
  readonly ledger: AcmeLedger;
  readonly ca: CaCertificates;
  readonly baseUrl: string;
  readonly meta: DirectoryMeta;
  readonly bodyLimit: number;
  /** How long a request body may take after its headers (boundRequestBodies); 0 or absent: no bound but Node's requestTimeout. */
  readonly bodyTimeoutMs?: number;
  readonly ordersPageSize?: number;
  /** The CRLs GET /crl serves; none until the publisher has one. */
  readonly crl?: (issuer: CrlIssuer) => PublishedCrl | undefined;
  /** The time for what the routes say of it themselves (a CRL's max-age, the readiness probe's row). */
  readonly clock: Clock;
  /** Request timings and GET /metrics; neither without it. */
  readonly metrics?: HttpMetrics;
  /** https: the options of https.createServer (TLS and http.Server ones); http: those of http.createServer. */
  readonly fastify?: FastifyServerOptions & { https?: import('node:https').ServerOptions | null; http?: import('node:http').ServerOptions };
}

/** The ACME API as an encapsulated plugin: JWS checks, nonces and problem documents for everything under it. */
async function acmeApi(app: FastifyInstance, opts: { ctx: RouteContext; ledger: AcmeLedger; bodyLimit: number; outages: KeyOutageLog }) {
  const { ctx, ledger } = opts;
  const verifier = new JwsVerifier(ledger, ctx.urls);
  const indexLink = `<${ctx.urls.directory}>;rel="index"`;

  // RFC 8555 §6.2: only application/jose+json; everything else is 415 through the error handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/jose+json', { parseAs: 'string', bodyLimit: opts.bodyLimit }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new AcmeProblem('malformed', 'the request body is not valid JSON'), undefined);
    }
  });
  app.decorateRequest('acme', null);
  // Before the routes: it gives each JWS route its preHandler.
  app.addHook('onRoute', verifyJwsOnRoutes(verifier));
  // A fresh nonce on newNonce, every POST answer and every problem document (RFC 8555 §6.5, §7.2),
  // and the index link on every response (§7.1). None on the directory or other GETs: clients that
  // Linux distributions still ship crash on a nonce there (Boulder sends none; step-ca removed its).
  const addIndexLink = (reply: FastifyReply) => {
    // One header line per link (CLIENT-NOTES): the index link after any the route set.
    const link = reply.getHeader('Link');
    reply.header('Link', link === undefined ? [indexLink] : Array.isArray(link) ? [...link.map(String), indexLink] : [String(link), indexLink]);
  };
  // A callback, not an async hook: a GET goes on in this turn, a POST in the one its nonce comes in.
  const withNonce = (reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void, then?: () => void) => {
    ledger.nonces.issue().then((nonce) => {
      reply.header('Replay-Nonce', nonce);
      then?.();
      done(null, payload);
    }, done);
  };
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.method === 'POST' || reply.statusCode >= 400) {
      withNonce(reply, payload, done, () => addIndexLink(reply));
    } else {
      addIndexLink(reply);
      done(null, payload);
    }
  });
  // newNonce's GET and HEAD (RFC 8555 §7.2) have their nonce from a hook of their own, given when
  // the route is added (after the one above, which gave an error answer its nonce already): no
  // request reads routeOptions for it (fastify builds a new object on every read; issue 27).
  app.addHook('onRoute', (route) => {
    if (route.config?.newNonce !== true) return;
    const onSend = (_request: unknown, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) => {
      if (reply.statusCode >= 400) done(null, payload);
      else withNonce(reply, payload, done);
    };
    route.onSend = route.onSend === undefined ? onSend : [...[route.onSend].flat(), onSend];
  });
  app.setErrorHandler(signingProblemHandler(opts.outages));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AcmeProblem('malformed', `no ACME resource at ${request.method} ${request.url}`, { status: 404 })),
  );

  await directoryRoutes(app, ctx);
  await accountRoutes(app, ctx);
  await orderRoutes(app, ctx);
  await authorizationRoutes(app, ctx);
  await certificateRoutes(app, ctx);
  await revocationRoutes(app, ctx);
  await keyChangeRoutes(app, ctx);
  // RFC 8555 §6.3: resources are fetched with POST-as-GET; a plain GET is a 405 with a hint.
  for (const path of ['/acme/new-account', '/acme/new-order', '/acme/revoke-cert', '/acme/key-change', '/acme/acct/:id', '/acme/acct/:id/orders', '/acme/order/:id', '/acme/order/:id/finalize', '/acme/authz/:id', '/acme/chall/:id', '/acme/cert/:serial']) {
    app.get(path, async (_req, reply) =>
      sendProblem(reply.header('Allow', 'POST'), new AcmeProblem('malformed', 'use POST (POST-as-GET with an empty payload to read)', { status: 405 })),
    );
  }
}

export async function createAcmeServer(o: AcmeServerOptions): Promise<FastifyInstance> {
  const urls = new AcmeUrls(o.baseUrl);
  const app = Fastify({
    ...(o.fastify?.loggerInstance ? {} : { logger: false }),
    bodyLimit: o.bodyLimit,
    // A path that does not percent-decode or a param longer than the router takes is refused
    // before any route runs; it still gets a problem document, not fastify's own JSON.
    frameworkErrors: problemErrorHandler,
    ...o.fastify,
  } as FastifyServerOptions);
  const ctx: RouteContext = { ra: o.ra, urls, meta: o.meta, ordersPageSize: o.ordersPageSize ?? 100 };
  if (o.bodyTimeoutMs) boundRequestBodies(app, o.bodyTimeoutMs, () => o.ledger.nonces.issue());
  if (o.metrics) observeRequests(app, o.metrics);
  await app.register(acmeApi, { prefix: urls.prefix, ctx, ledger: o.ledger, bodyLimit: o.bodyLimit, outages: new KeyOutageLog(o.clock) });
  await app.register(async (ari) => renewalInfoRoutes(ari, ctx), { prefix: urls.prefix });
  await app.register(publicRoutes, {
    prefix: urls.prefix,
    ca: o.ca,
    urls,
    crl: o.crl ?? (() => undefined),
    clock: o.clock,
    // A committed write through the ledger: fails while it cannot commit (read-only file, full
    // disk, database gone), and passes again by itself when it can. The CA's keys were imported
    // before this app could be built. (No nonce: a probe is no ACME client.)
    ready: async () => {
      await o.ledger.checkWritable(o.clock.now());
    },
    keyState: () => o.ca.keyState?.() ?? { ready: true },
  });
  if (o.metrics) await app.register(metricsRoutes, { prefix: urls.prefix, metrics: o.metrics });
  return app;
}
