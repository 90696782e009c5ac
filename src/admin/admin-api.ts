import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CaCertificates } from '../ca/types.js';
import type { Clock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import type { LedgerReader } from '../ledger/ledger.js';
import { isAdminToken, type AdminPrincipal } from '../ra/admin-certificates.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { requireOperator } from '../ra/admin-tokens.js';
import { checkReason, REVOCATION_REASONS } from '../ra/revocation.js';
import { accessRoutes } from './access-routes.js';
import { authenticateRequest } from './authenticate.js';
import type { SessionLimits } from '../ra/admin-sessions.js';
import {
  CERTIFICATE_QUERY_KEYS,
  certificateDetailJson,
  certificateSummaryJson,
  encodeCursor,
  filterOf,
  serialOf,
  type CertificateQuery,
} from './certificate-views.js';
import { caRoutes } from './ca-routes.js';
import { certificateRoutes } from './certificate-routes.js';
import { notificationRoutes } from './notification-routes.js';
import { openApiDocument } from './openapi.js';
import { SummaryCache, summaryRoutes } from './summary-routes.js';

/** Where the admin API lives under a listener's base path. */
export const ADMIN_API_PREFIX = '/api/v1';

/** What the admin API may do: read the ledger, and change it only through these ra/ use cases. */
export type AdminUseCases = Pick<
  RegistrationAuthority,
  'authenticateAdmin' | 'authenticateAdminCertificate' | 'startConsoleSession' | 'resumeConsoleSession' | 'endConsoleSession' | 'noteAdminTokenUse' | 'revokeBySerial' | 'renewEarly' | 'deactivateAccount' | 'createEabKey' | 'revokeEabKey' | 'eabPolicyNames' | 'retryDeliveries'
>;

/**
 * How refusals become problem documents: the ACME API's own mapping (ledger outages and CA key
 * outages as 503, storage failures, unexpected errors), handed in by the composition root so both
 * HTTP front-ends answer alike without admin/ reaching sideways into acme/.
 */
export interface ProblemResponder {
  readonly send: (reply: FastifyReply, problem: AcmeProblem) => FastifyReply;
  readonly errorHandler: (error: Error, request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

export interface AdminApiOptions {
  readonly problems: ProblemResponder;
  readonly ra: AdminUseCases;
  readonly ledger: LedgerReader;
  readonly clock: Clock;
  /** The CA's certificates (read-only) for GET /api/v1/ca; without them that route is absent. */
  readonly ca?: CaCertificates;
  /** The console's session limits: with them the API also accepts the console's cookie (and its CSRF token). */
  readonly sessions?: SessionLimits;
  /** admin.clientCertificates: the listener asked for a client certificate from the admin issuer (authenticate.ts). */
  readonly clientCertificates?: boolean;
  /** The overview's figures, shared with the console (registerAdmin makes one per app); absent, the API makes its own. */
  readonly summary?: SummaryCache;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who this request authenticated as: a token's holder or a client certificate's (admin API and console routes only). */
    admin: AdminPrincipal | null;
  }
}

const admin = (request: FastifyRequest): AdminPrincipal => request.admin!;

/** A reason by name (keyCompromise) or by its RFC 5280 code, as `certmint revoke --reason` takes it. */
function reasonOf(body: unknown): number {
  if (body === undefined || body === null) return REVOCATION_REASONS.unspecified;
  if (typeof body !== 'object' || Array.isArray(body)) throw new AcmeProblem('malformed', 'the body must be a JSON object such as {"reason": "keyCompromise"}');
  const { reason, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new AcmeProblem('malformed', `unknown member ${JSON.stringify(unknown[0])}: the body takes only "reason"`);
  if (typeof reason === 'string') {
    const code = (REVOCATION_REASONS as Record<string, number>)[reason];
    if (code === undefined) {
      throw new AcmeProblem('badRevocationReason', `reason ${JSON.stringify(reason)} is not accepted; use one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
    }
    return code;
  }
  return checkReason(reason);
}

/**
 * The admin API (docs/console-and-admin-api.md) as an encapsulated fastify plugin: every request
 * carries `Authorization: Bearer <admin token>` (401 otherwise), actions need the operator role
 * (403), and every answer is JSON or a problem document, never cached. Reads go to the ledger;
 * the one action so far, revocation, is ra/'s, audited as admin:<name>.
 */
export async function adminApi(app: FastifyInstance, o: AdminApiOptions): Promise<void> {
  app.decorateRequest('admin', null);
  app.setErrorHandler((error: Error, request, reply) => o.problems.errorHandler(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    o.problems.send(reply, new AcmeProblem('malformed', `no admin API resource at ${request.method} ${request.url.split('?')[0]}`, { status: 404 })),
  );
  // Before the body is read: an unauthenticated request learns nothing from how its body parses.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    if ((request.routeOptions.config as { public?: boolean } | undefined)?.public === true) return;
    request.admin = await authenticateRequest(o, request);
  });

  // The API's description holds no data: a client (or a person) reads it before holding a token.
  const document = openApiDocument(app.prefix);
  app.get('/openapi.json', { config: { public: true } }, async (_request, reply) => reply.send(document));

  // Noted once answered: a refused request (403 included) leaves the ledger as it was. A token's
  // use only: a client certificate's is not recorded (the ledger is only read for it).
  app.addHook('onResponse', async (request, reply) => {
    if (request.admin && isAdminToken(request.admin) && reply.statusCode < 400) await o.ra.noteAdminTokenUse(request.admin).catch(() => undefined);
  });

  await accessRoutes(app, o);

  app.get('/certificates', async (request: FastifyRequest<{ Querystring: CertificateQuery }>, reply: FastifyReply) => {
    const query = request.query;
    const unknown = Object.keys(query).find((k) => !(CERTIFICATE_QUERY_KEYS as readonly string[]).includes(k));
    if (unknown !== undefined) throw new AcmeProblem('malformed', `unknown query parameter ${JSON.stringify(unknown)}; this list takes ${CERTIFICATE_QUERY_KEYS.join(', ')}`);
    const repeated = Object.entries(query).find(([, v]) => typeof v !== 'string');
    if (repeated !== undefined) throw new AcmeProblem('malformed', `query parameter ${JSON.stringify(repeated[0])} is given more than once`);
    const now = o.clock.now();
    const filter = filterOf(query, now);
    // One more than asked: whether there is a next page, without a COUNT.
    const rows = await o.ledger.listCertificates({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return reply.send({
      certificates: page.map((c) => certificateSummaryJson(c, now)),
      next: rows.length > filter.limit && last ? encodeCursor({ notAfter: last.notAfter, serial: last.serial, latestFirst: filter.latestFirst ?? false }) : null,
    });
  });

  app.get('/certificates/:serial', async (request: FastifyRequest<{ Params: { serial: string } }>, reply) => {
    const serial = serialOf(request.params.serial);
    const cert = await o.ledger.getCertificate(serial);
    if (!cert) throw new AcmeProblem('malformed', `no certificate with serial ${serial} in this ledger`, { status: 404 });
    return reply.send(certificateDetailJson(cert, await o.ledger.auditTrail(serial), o.clock.now()));
  });

  app.post('/certificates/:serial/revoke', async (request: FastifyRequest<{ Params: { serial: string } }>, reply) => {
    // The role first: a viewer learns nothing of the serial or the body by trying.
    requireOperator(admin(request), 'revoking a certificate');
    const serial = serialOf(request.params.serial);
    const reason = reasonOf(request.body);
    const revoked = await o.ra.revokeBySerial(serial, reason, { kind: 'admin', name: admin(request).name });
    return reply.send(certificateDetailJson(revoked, await o.ledger.auditTrail(serial), o.clock.now()));
  });

  await certificateRoutes(app, o);
  if (o.ca) await caRoutes(app, { ...o, ca: o.ca });
  await notificationRoutes(app, o);
  await summaryRoutes(app, { summary: o.summary ?? new SummaryCache(o) });
}
