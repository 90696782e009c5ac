import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmeWire, problemOf } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { freePort } from '../support/ports.js';

// limits.newAccountsPerIpPerHour counts accounts per client address. Without TLS (behind a
// TLS-terminating proxy) certmint used to believe any X-Forwarded-For, so a client naming a new
// address in every request was never limited. Now only server.trustedProxies are believed.
const LIMIT = 2;
const randomAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

async function plainHttpCertmint(trustedProxies: readonly string[]): Promise<CertmintProcess> {
  const port = await freePort();
  return startCertmint({
    config: {
      server: { listen: `127.0.0.1:${port}`, baseUrl: `http://127.0.0.1:${port}`, tls: { enabled: false }, trustedProxies },
      limits: { newAccountsPerIpPerHour: LIMIT },
    },
  });
}

/** newAccount statuses of `count` fresh keys, each request sent through `wire`. */
async function newAccounts(wire: (i: number) => AcmeWire, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const { res } = await wire(i).newAccount();
    statuses.push(res.status);
    if (res.status === 429) expect(problemOf(res)).toMatchObject({ type: 'urn:ietf:params:acme:error:rateLimited' });
  }
  return statuses;
}

const accountRows = async (certmint: CertmintProcess) => (JSON.parse((await certmint.cli(['accounts', 'list', '--json'])).stdout) as unknown[]).length;

describe('X-Forwarded-For is believed only from server.trustedProxies', () => {
  let certmint: CertmintProcess | undefined;
  afterEach(async () => {
    await certmint?.stop();
    certmint = undefined;
  });

  it('by default (no trusted proxy, TLS off) a new X-Forwarded-For per request does not escape the per-address limit', async () => {
    certmint = await plainHttpCertmint([]);
    const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
    const statuses = await newAccounts((i) => wire.from({ headers: { 'x-forwarded-for': `${randomAddress()}, 10.0.0.${i + 1}` } }), LIMIT + 2);
    expect(statuses).toEqual([201, 201, 429, 429]);
    expect(await accountRows(certmint)).toBe(LIMIT);
  });

  it('a listed proxy names the client; a peer that is not listed does not', async () => {
    // The proxy connects from 127.0.0.2 (all of 127/8 is loopback here); clients from 127.0.0.1.
    certmint = await plainHttpCertmint(['127.0.0.2/32']);
    const direct = new AcmeWire(certmint.baseUrl, certmint.rootPem, { localAddress: '127.0.0.1' });
    const proxied = (client: string) => direct.from({ localAddress: '127.0.0.2', headers: { 'x-forwarded-for': client } });

    // Through the proxy, each client address has its own budget.
    expect(await newAccounts(() => proxied('192.0.2.10'), LIMIT + 1)).toEqual([201, 201, 429]);
    expect(await newAccounts(() => proxied('192.0.2.11'), 1)).toEqual([201]);
    // A direct client's own header is not believed: it is 127.0.0.1, whatever it says.
    const spoofing = (i: number) => direct.from({ localAddress: '127.0.0.1', headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } });
    expect(await newAccounts(spoofing, LIMIT + 1)).toEqual([201, 201, 429]);
    expect(await accountRows(certmint)).toBe(3 * LIMIT - 1);
  });
});
