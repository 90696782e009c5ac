import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { CsrParseError, parseCsr } from '../ca/csr.js';

// Property-based tests (fast-check) of everything a client controls: whatever it sends, certmint
// answers with an RFC 8555 problem document (4xx), never a 5xx, never a crash. The case count is
// per property; CERTMINT_PROPERTY_RUNS raises it for a longer soak.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
const URN = 'urn:ietf:params:acme:error:';
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');

let t: TestAcmeApp;
let client: InjectAcmeClient;
let readyFinalizeUrl: string;
let validCsr: Uint8Array;
beforeAll(async () => {
  t = await startTestAcmeApp({ env: { CERTMINT_LIMITS_NEW_ORDERS_PER_ACCOUNT_PER_HOUR: '0', CERTMINT_LIMITS_PENDING_AUTHORIZATIONS_PER_ACCOUNT: '0' } });
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await client.register()).statusCode).toBe(201);
  readyFinalizeUrl = (await validateNames(t, client, ['hostile.example.internal'])).finalize as string;
  validCsr = (await makeCsr(['other.example.internal'])).der;
});
afterAll(async () => t?.close());

type Injected = Awaited<ReturnType<TestAcmeApp['app']['inject']>>;

function expectProblem(res: Injected, what: unknown): void {
  const context = `${res.statusCode} ${res.body.slice(0, 300)} for ${JSON.stringify(what)?.slice(0, 300)}`;
  expect(res.statusCode, context).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, context).toBeLessThan(500);
  expect(res.headers['content-type'], context).toBe('application/problem+json');
  expect(String(res.json().type), context).toMatch(new RegExp(`^${URN}`));
}

const post = (url: string, payload: string) =>
  t.app.inject({ method: 'POST', url: client.path(url), headers: { 'content-type': 'application/jose+json' }, payload });

/** JSON values with the strings, numbers and nesting that break parsers. */
const hostileJson = fc.jsonValue({ maxDepth: 3 });
const hostileString = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('', '-', '.', '*', '\u0000', 'a'.repeat(300)));

describe('hostile input never gets a 5xx', () => {
  it('any JSON body as a JWS', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('new-order', 'new-account', 'revoke-cert', 'key-change'), hostileJson, async (resource, body) => {
        expectProblem(await post(`${t.baseUrl}/acme/${resource}`, JSON.stringify(body)), body);
      }),
      { numRuns: RUNS },
    );
  });

  it('any bytes as the request body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        const res = await t.app.inject({ method: 'POST', url: '/acme/new-order', headers: { 'content-type': 'application/jose+json' }, payload: Buffer.from(bytes) });
        expectProblem(res, [...bytes]);
      }),
      { numRuns: RUNS },
    );
  });

  it('a flattened JWS with any protected header, payload and signature', async () => {
    const header = fc.record(
      {
        alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'EdDSA', 'none', 'HS256'), hostileString),
        nonce: fc.oneof(hostileString, fc.constant(undefined)),
        url: fc.oneof(fc.constant(`${t.baseUrl}/acme/new-order`), hostileString),
        kid: fc.oneof(fc.constant(client.accountUrl), hostileString, fc.integer()),
        jwk: fc.oneof(fc.constant(client.key.jwk), fc.dictionary(fc.constantFrom('kty', 'crv', 'x', 'y', 'n', 'e', 'd'), hostileString), hostileJson),
        b64: fc.boolean(),
        crit: fc.array(hostileString, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(header, hostileJson, fc.uint8Array({ maxLength: 100 }), async (h, payload, signature) => {
        const body = { protected: b64(JSON.stringify(h)), payload: b64(JSON.stringify(payload)), signature: b64(signature) };
        expectProblem(await post(`${t.baseUrl}/acme/new-order`, JSON.stringify(body)), body);
      }),
      { numRuns: RUNS },
    );
  });

  it('a properly signed request with any payload, to every resource', async () => {
    const account = client.accountUrl!;
    const resources = [`${t.baseUrl}/acme/new-order`, readyFinalizeUrl, account, `${t.baseUrl}/acme/revoke-cert`, `${t.baseUrl}/acme/key-change`];
    // Values of the right shape that are wrong inside, so requests get past the first checks.
    const mutatedDer = fc.tuple(fc.nat(validCsr.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const copy = Uint8Array.from(validCsr);
      copy[i] = copy[i]! ^ x;
      return b64(copy);
    });
    const shaped = fc.oneof(
      hostileJson,
      mutatedDer,
      fc.array(fc.record({ type: fc.constantFrom('dns', 'ip'), value: fc.oneof(fc.domain(), hostileString) }), { maxLength: 3 }),
      fc.array(fc.oneof(fc.emailAddress().map((e) => `mailto:${e}`), hostileString), { maxLength: 3 }),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.integer({ min: -5, max: 20 }),
      fc.constantFrom('deactivated', 'valid', 'default', 'shortlived', 'mtls'),
    );
    const identifiers = fc.array(fc.record({ type: fc.constantFrom('dns', 'ip'), value: fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6(), hostileString) }), { maxLength: 3 });
    const loose = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, hostileJson);
    // One request shape per resource, each field right-shaped or hostile: the checks behind the first one get exercised.
    const request = fc.oneof(
      fc.tuple(fc.constant(`${t.baseUrl}/acme/new-order`), fc.record({ identifiers: loose(identifiers), notBefore: loose(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), notAfter: loose(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), profile: loose(fc.constantFrom('default', 'shortlived', 'mtls', 'nope')), replaces: loose(hostileString) }, { requiredKeys: ['identifiers'] })),
      fc.tuple(fc.constant(readyFinalizeUrl), fc.record({ csr: loose(fc.oneof(mutatedDer, fc.constant(b64(validCsr)))) })),
      fc.tuple(fc.constant(account), fc.record({ contact: loose(fc.array(fc.oneof(fc.emailAddress().map((e) => `mailto:${e}`), hostileString), { maxLength: 3 })), status: loose(fc.constantFrom('valid', 'revoked', 'pending')) }, { requiredKeys: [] })),
      fc.tuple(fc.constant(`${t.baseUrl}/acme/revoke-cert`), fc.record({ certificate: loose(fc.oneof(mutatedDer, fc.constant(b64(validCsr)))), reason: loose(fc.integer({ min: -2, max: 12 })) }, { requiredKeys: ['certificate'] })),
      fc.tuple(fc.constant(`${t.baseUrl}/acme/key-change`), fc.record({ protected: loose(hostileString), payload: loose(hostileString), signature: loose(hostileString) })),
      fc.tuple(fc.constantFrom(...resources), fc.dictionary(hostileString, shaped, { maxKeys: 4 })),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([url, payload]) => {
        const res = await client.post(url, payload);
        // Some of these are simply fine (an account update with no changes, say); none may be a 5xx.
        if (res.statusCode >= 400) expectProblem(res, payload);
        expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(500);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('any identifier in newOrder', async () => {
    const ipv6ish = fc.ipV6().map((ip) => ip.toUpperCase());
    const value = fc.oneof(hostileString, fc.domain(), fc.ipV4(), fc.ipV6(), ipv6ish, fc.ipV4Extended(), fc.webUrl(), fc.constantFrom('*.', '*.*.a.example', 'xn--', 'a..b', `${'a'.repeat(64)}.example`, '127.0.0.1/8', '::ffff:1.2.3.4'));
    const identifier = fc.record({ type: fc.oneof(fc.constantFrom('dns', 'ip', 'email', 'DNS'), hostileString), value });
    await fc.assert(
      fc.asyncProperty(fc.array(identifier, { minLength: 1, maxLength: 3 }), async (identifiers) => {
        const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers });
        if (res.statusCode >= 400) expectProblem(res, identifiers);
        else expect(res.statusCode).toBe(201);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('any CSR bytes, and valid CSRs with bytes flipped or cut, parse or fail with CsrParseError only', async () => {
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.tuple(fc.nat(validCsr.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const copy = Uint8Array.from(validCsr);
        copy[i] = copy[i]! ^ x;
        return copy;
      }),
      fc.nat(validCsr.length).map((n) => validCsr.subarray(0, n)),
    );
    await fc.assert(
      fc.asyncProperty(mutated, async (der) => {
        try {
          await parseCsr(der);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(CsrParseError);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
