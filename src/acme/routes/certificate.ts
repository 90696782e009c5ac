import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeProblem } from '../../core/problem.js';
import { requirePostAsGet, signer, type RouteContext } from '../context.js';

/** RFC 8555 §7.4.2 certificate download, and its alternate chains at <certificate URL>/<n>. */
export async function certificateRoutes(app: FastifyInstance, { ra, urls }: RouteContext): Promise<void> {
  const download = async (request: FastifyRequest, reply: FastifyReply, serial: string, chain: number) => {
    requirePostAsGet(request, 'a certificate');
    const { pem, chains } = await ra.certificateDownload(signer(request), serial, chain);
    // Every other chain of the same leaf, one Link header each (clients parse one link per header).
    const links: string[] = [];
    for (let other = 0; other < chains; other++) {
      if (other !== chain) links.push(`<${urls.certificate(serial, other)}>;rel="alternate"`);
    }
    if (links.length > 0) reply.header('Link', links);
    return reply.type('application/pem-certificate-chain').send(pem);
  };
  app.post<{ Params: { serial: string } }>('/acme/cert/:serial', { config: { jws: 'kid' } }, async (request, reply) =>
    download(request, reply, request.params.serial, 0),
  );
  app.post<{ Params: { serial: string; chain: string } }>('/acme/cert/:serial/:chain', { config: { jws: 'kid' } }, async (request, reply) => {
    // "0" is not one: the default chain has the URL the order names.
    if (!/^[1-9][0-9]{0,2}$/.test(request.params.chain)) {
      throw new AcmeProblem('malformed', `no alternate chain "${request.params.chain}"`, { status: 404 });
    }
    return download(request, reply, request.params.serial, Number(request.params.chain));
  });
}
