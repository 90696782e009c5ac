import type { FastifyInstance } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { signer, verified, type RouteContext } from '../context.js';
import { retryAfterWhileInProgress } from '../retry-after.js';
import { authorizationBody, challengeBody } from '../serialize.js';

/** RFC 8555 §7.5 authorizations and challenges. */
export async function authorizationRoutes(app: FastifyInstance, { ra, urls, meta }: RouteContext): Promise<void> {
  // Only the owner reads an authorization or challenge (ra/ checks), so the account URL is the signer's.
  const persist = (accountId: string) => ({ issuerDomainNames: meta.dnsPersistIssuerDomainNames ?? [], accountUri: urls.account(accountId) });
  app.post<{ Params: { id: string } }>('/acme/authz/:id', { config: { jws: 'kid' } }, async (request, reply) => {
    // An empty payload reads it; {"status": "deactivated"} is the client's deactivation (RFC 8555 §7.5.2).
    const payload = verified(request).payload;
    const view = payload === undefined
      ? await ra.getAuthorization(signer(request), request.params.id)
      : await ra.updateAuthorization(signer(request), request.params.id, payload);
    return retryAfterWhileInProgress(reply, view.status).send(authorizationBody(view, urls, persist(view.authz.accountId)));
  });

  app.post<{ Params: { id: string } }>('/acme/chall/:id', { config: { jws: 'kid' } }, async (request, reply) => {
    const account = signer(request);
    const payload = verified(request).payload;
    // An empty payload is POST-as-GET and never (re)starts validation; {} says "ready" (RFC 8555 §7.5.1).
    if (payload !== undefined && Object.keys(payload).length > 0) {
      throw new AcmeProblem('malformed', 'a challenge response payload must be the empty object {}');
    }
    const view = payload === undefined
      ? await ra.getChallenge(account, request.params.id)
      : await ra.respondToChallenge(account, request.params.id);
    reply.header('Link', `<${urls.authorization(view.authorizationId)}>;rel="up"`);
    return retryAfterWhileInProgress(reply, view.challenge.status).send(challengeBody(view.challenge, urls, persist(account.id)));
  });
}
