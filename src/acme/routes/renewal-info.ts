import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { problemErrorHandler } from '../problem-handler.js';
import { rfc3339 } from '../serialize.js';

/** RFC 9773 §4.3: when clients should ask again (6 h, as Let's Encrypt answers). */
const RETRY_AFTER_SECONDS = 21_600;

/**
 * RFC 9773 §4.1 renewal information: an unauthenticated GET that every ARI client polls for every
 * certificate, so it lives outside the ACME plugin: no JWS preHandler and no nonce issued per poll.
 * Errors are the same problem documents, from the same handler.
 */
export async function renewalInfoRoutes(app: FastifyInstance, { ra, urls }: RouteContext): Promise<void> {
  const indexLink = `<${urls.directory}>;rel="index"`;
  app.setErrorHandler(problemErrorHandler);
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Link', indexLink);
    return payload;
  });
  // A wildcard, not ":certId": an empty or over-long certID or one with "/" reaches the parser
  // and gets a 400 saying what is wrong, instead of a bare 404.
  app.get<{ Params: { '*': string } }>('/acme/renewal-info/*', async (request, reply) => {
    const window = await ra.renewalInfo(request.params['*']);
    return reply
      .header('Retry-After', String(RETRY_AFTER_SECONDS))
      .type('application/json')
      .send({
        suggestedWindow: { start: rfc3339(window.start), end: rfc3339(window.end) },
        ...(window.explanationUrl !== undefined ? { explanationURL: window.explanationUrl } : {}),
      });
  });
}
