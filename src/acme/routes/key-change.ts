import type { FastifyInstance } from 'fastify';
import { signer, verified, type RouteContext } from '../context.js';
import { accountBody } from '../serialize.js';

/** RFC 8555 §7.3.5 account key rollover: signed by the current key, carrying a JWS by the new one. */
export async function keyChangeRoutes(app: FastifyInstance, { ra, urls }: RouteContext): Promise<void> {
  app.post('/acme/key-change', { config: { jws: 'kid', innerJws: true } }, async (request, reply) => {
    const inner = verified(request).inner;
    if (!inner) throw new Error('keyChange reached without its inner JWS verified');
    const account = await ra.changeAccountKey(signer(request), inner);
    return reply.header('Location', urls.account(account.id)).send(accountBody(account, urls));
  });
}
