import type { FastifyInstance } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { requirePostAsGet, signer, verified, type RouteContext } from '../context.js';
import { accountBody } from '../serialize.js';

/** RFC 8555 §7.3 newAccount and the account resource. */
export async function accountRoutes(app: FastifyInstance, { ra, urls, ordersPageSize }: RouteContext): Promise<void> {
  app.post('/acme/new-account', { config: { jws: 'jwk' } }, async (request, reply) => {
    const v = verified(request);
    const { account, created } = await ra.newAccount({
      jwk: v.jwk!,
      thumbprint: v.thumbprint!,
      payload: v.payload ?? {},
      url: urls.newAccount,
      clientAddress: request.ip,
    });
    // 201 for a new account, 200 with Location for an existing key (RFC 8555 §7.3.1).
    return reply.code(created ? 201 : 200).header('Location', urls.account(account.id)).send(accountBody(account, urls));
  });

  app.post<{ Params: { id: string } }>('/acme/acct/:id', { config: { jws: 'kid' } }, async (request, reply) => {
    const account = signer(request);
    if (account.id !== request.params.id) {
      throw new AcmeProblem('unauthorized', 'the request is signed by a different account than the one addressed');
    }
    const updated = await ra.updateAccount(account, verified(request).payload);
    return reply.header('Location', urls.account(updated.id)).send(accountBody(updated, urls));
  });

  // RFC 8555 §7.1.2.1: the account's orders, a page at a time with Link rel="next".
  app.post<{ Params: { id: string }; Querystring: { after?: string } }>(
    '/acme/acct/:id/orders',
    { config: { jws: 'kid' } },
    async (request, reply) => {
      requirePostAsGet(request, 'an orders list');
      const account = signer(request);
      if (account.id !== request.params.id) {
        throw new AcmeProblem('unauthorized', 'the orders of another account cannot be listed');
      }
      const page = await ra.listOrders(account, ordersPageSize, request.query.after);
      if (page.next) reply.header('Link', `<${urls.account(account.id)}/orders?after=${page.next}>;rel="next"`);
      return reply.send({ orders: page.ids.map((id) => urls.order(id)) });
    },
  );
}
