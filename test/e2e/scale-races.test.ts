import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeWire, problemOf, type WireAccount, type WireResponse } from '../support/acme-wire.js';
import { startCertmintPair, type CertmintPair } from '../support/certmint-pair.js';
import type { CertmintProcess } from '../support/certmint-process.js';
import { makeCsr } from '../support/csr.js';
import { haproxyAvailable } from '../support/haproxy.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import type { AccountKey } from '../support/jws-client.js';
import { postgresAvailable } from '../support/postgres.js';

// Races between two instances on one PostgreSQL ledger, sent to each instance directly (not
// through haproxy) so each half of a race surely reaches a different process: the ledger, not a
// process's memory, must decide which finalize issues, and whether a nonce was spent.

const available = postgresAvailable() && haproxyAvailable();
const URN = 'urn:ietf:params:acme:error:';
const FINALIZERS = 20;
const ROUNDS = 4;

describe.skipIf(!available)('races between two instances on one ledger', () => {
  let pair: CertmintPair;
  let responder: Http01Responder;
  let viaProxy: AcmeWire;
  let account: WireAccount;

  beforeAll(async () => {
    pair = await startCertmintPair();
    responder = await startHttp01Responder('127.0.0.1', pair.http01Port);
    viaProxy = new AcmeWire(pair.baseUrl, pair.rootPem);
    const created = await viaProxy.newAccount();
    expect(created.res.status, created.res.body).toBe(201);
    account = created.account!;
  });
  afterAll(async () => {
    await responder?.stop();
    await pair?.stop();
  });

  /** One instance's own listener; every URL in a JWS still names haproxy's (server.baseUrl). */
  function direct(instance: CertmintProcess) {
    const wire = new AcmeWire(instance.directUrl, pair.rootPem);
    const onInstance = (url: string) => `${instance.directUrl}${url.slice(pair.baseUrl.length)}`;
    return {
      nonce: async () => String((await wire.send('HEAD', `${instance.directUrl}/acme/new-nonce`)).headers['replay-nonce']),
      send: (url: string, body: string): Promise<WireResponse> => wire.send('POST', onInstance(url), body),
    };
  }

  async function signed(key: AccountKey, kid: string, url: string, payload: unknown, nonce: string): Promise<string> {
    const bytes = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    return JSON.stringify(await new FlattenedSign(bytes).setProtectedHeader({ alg: key.alg, nonce, url, kid }).sign(key.privateKey));
  }

  it(`${FINALIZERS} concurrent finalize requests for one order, half to each instance, issue exactly one certificate (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
    const [one, two] = pair.instances.map(direct) as [ReturnType<typeof direct>, ReturnType<typeof direct>];
    const outcomes: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const names = [`race${round}.scale.test`];
      const order = await viaProxy.readyOrder(account, names, responder);
      const csr = Buffer.from((await makeCsr(names)).der).toString('base64url');
      // Every body signed with a fresh nonce of the instance it goes to, before any is sent;
      // the instance sent to first changes each round.
      const instanceOf = (i: number) => ((i + round) % 2) + 1;
      const requests = await Promise.all(
        Array.from({ length: FINALIZERS }, async (_, i) => {
          const to = instanceOf(i) === 1 ? one : two;
          return { to, body: await signed(account.key, account.url, order.finalize, { csr }, await to.nonce()) };
        }),
      );
      const answers = await Promise.all(requests.map((r) => r.to.send(order.finalize, r.body)));

      // RFC 8555 §7.4: the order as it is (valid with its certificate, or processing), or
      // orderNotReady once another request moved it on: what one instance answers alone (src/acme/concurrency.test.ts).
      const certificates = new Set<string>();
      for (const [i, res] of answers.entries()) {
        const what = res.status === 200 ? `200 ${(JSON.parse(res.body) as { status: string }).status}` : `${res.status} ${problemOf(res).type.replace(URN, '')}`;
        const key = `instance ${instanceOf(i)}: ${what}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        expect(['200 valid', '200 processing', '403 orderNotReady'], res.body).toContain(what);
        if (what === '200 valid') certificates.add((JSON.parse(res.body) as { certificate: string }).certificate);
      }
      expect(certificates.size, JSON.stringify(outcomes)).toBeLessThanOrEqual(1);

      // The order ends valid, with the one certificate every valid answer named.
      let final: { status: string; certificate?: string } = { status: '' };
      for (let i = 0; i < 100 && final.status !== 'valid'; i++) {
        final = JSON.parse((await viaProxy.postAsGet(account, order.url)).body) as typeof final;
        if (final.status !== 'valid') await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(final.status).toBe('valid');
      for (const url of certificates) expect(url).toBe(final.certificate);
      const orderId = order.url.split('/').pop()!;
      const rows = await pair.query<{ serial: string }>('SELECT serial FROM certificates WHERE order_id = $1', [orderId]);
      expect(rows).toHaveLength(1);
      expect(final.certificate!.endsWith(`/${rows[0]!.serial}`)).toBe(true);
      const [stored] = await pair.query<{ certificate_serial: string }>('SELECT certificate_serial FROM orders WHERE id = $1', [orderId]);
      expect(stored!.certificate_serial).toBe(rows[0]!.serial);
    }
    console.log(`${ROUNDS} rounds of ${FINALIZERS} concurrent finalizes: ${JSON.stringify(outcomes)}`);
  });

  it('a nonce spent at one instance is badNonce at the other, both ways', { timeout: 60_000 }, async () => {
    const [one, two] = pair.instances.map(direct) as [ReturnType<typeof direct>, ReturnType<typeof direct>];
    for (const [from, to, label] of [[one, two, '1 → 2'], [two, one, '2 → 1']] as const) {
      const nonce = await from.nonce();
      const spent = await from.send(account.url, await signed(account.key, account.url, account.url, '', nonce));
      expect(spent.status, `${label}: ${spent.body}`).toBe(200);
      // The same nonce in a new request (another JWS) to the other instance.
      const replayed = await to.send(account.url, await signed(account.key, account.url, account.url, '', nonce));
      expect(replayed.status, `${label}: ${replayed.body}`).toBe(400);
      expect(problemOf(replayed).type).toBe(`${URN}badNonce`);
      // RFC 8555 §6.5: a badNonce answer carries a fresh nonce to retry with.
      expect(replayed.headers['replay-nonce']).toEqual(expect.any(String));
    }
  });

  it('a fresh nonce from instance 1 is accepted by instance 2 once, then refused by both', { timeout: 60_000 }, async () => {
    const [one, two] = pair.instances.map(direct) as [ReturnType<typeof direct>, ReturnType<typeof direct>];
    const nonce = await one.nonce();
    const first = await two.send(account.url, await signed(account.key, account.url, account.url, '', nonce));
    expect(first.status, first.body).toBe(200);
    for (const again of [two, one]) {
      const res = await again.send(account.url, await signed(account.key, account.url, account.url, '', nonce));
      expect(res.status, res.body).toBe(400);
      expect(problemOf(res).type).toBe(`${URN}badNonce`);
    }
  });
});
