import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { LAZY_SCHEMA_COMPILERS } from './listeners.js';

// serve's listeners give fastify schema compilers that load ajv and fast-json-stringify only when a
// route declares a schema (none does today: start-up skips loading them). One that ever does must
// still be validated and serialized as fastify's defaults would.
describe('LAZY_SCHEMA_COMPILERS', () => {
  it('validate a body and serialize a response of a route that declares schemas', async () => {
    const app = Fastify({ schemaController: { compilersFactory: LAZY_SCHEMA_COMPILERS } });
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 5 } } },
          response: { 200: { type: 'object', properties: { name: { type: 'string' } } } },
        },
      },
      async (request) => ({ name: (request.body as { name: string }).name, dropped: 'not in the response schema' }),
    );
    try {
      const ok = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'abc' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ name: 'abc' });
      const refused = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'too long' } });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().message).toMatch(/must NOT have more than 5 characters/);
    } finally {
      await app.close();
    }
  });
});
