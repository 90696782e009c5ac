import 'reflect-metadata';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import acme from 'acme-client';
import type { AxiosError, AxiosResponse } from 'axios';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { freePort } from '../../test/support/ports.js';
import { SwitchableKeyDevice } from '../../test/support/switchable-key-device.js';
import { leafCrlIssuer } from '../ledger/ledger.js';
import { KEY_OUTAGE_LOG_INTERVAL_MS } from './problem-handler.js';

// Issue 23: while a CA key cannot sign (its token removed, a session lost), finalize and
// revocation answer 503 serverInternal with Retry-After and change nothing, the order is not left
// processing, /ready says why, and the CRL publisher waits for the key; all resume once it signs.
// The HSM is outside certmint: a test device in front of the CA's real file keys stands for it.

const URN = 'urn:ietf:params:acme:error:';
const device = new SwitchableKeyDevice();
let t: TestAcmeApp;
let client: acme.Client;
/** Every answer the ACME client got that was not 2xx, as it got it over HTTP. */
const refused: AxiosResponse[] = [];

beforeAll(async () => {
  const port = await freePort();
  t = await startTestAcmeApp({ baseUrl: `http://127.0.0.1:${port}`, keyProvider: (ca) => device.provider(ca) });
  await t.app.listen({ host: '127.0.0.1', port });
  // The client's own retries (it honours Retry-After) are switched off so that the test sees each 503.
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
  // acme-client reads problem documents from the response itself: they arrive here resolved.
  acme.axios.interceptors.response.use(
    (r: AxiosResponse) => {
      if (r.status >= 400) refused.push(r);
      return r;
    },
    (e: AxiosError) => {
      if (e.response) refused.push(e.response);
      return Promise.reject(e);
    },
  );
  client = new acme.Client({ directoryUrl: `${t.baseUrl}/directory`, accountKey: await acme.crypto.createPrivateKey() });
  await client.createAccount({ termsOfServiceAgreed: true });
});
afterAll(async () => t?.close());

/** What an operator would count in the ledger file: nothing may change while the key is away. */
function ledgerRows(): { certificates: number; revoked: number; audit: number; processing: number } {
  const db = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      certificates: n('SELECT COUNT(*) AS n FROM certificates'),
      revoked: n(`SELECT COUNT(*) AS n FROM certificates WHERE status = 'revoked'`),
      audit: n('SELECT COUNT(*) AS n FROM audit_log'),
      processing: n(`SELECT COUNT(*) AS n FROM orders WHERE status = 'processing'`),
    };
  } finally {
    db.close();
  }
}

async function readyOrder(name: string): Promise<{ order: acme.Order; csr: Buffer }> {
  const order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
  for (const authz of await client.getAuthorizations(order)) {
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    t.responder.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  }
  const [, csr] = await acme.crypto.createCsr({ altNames: [name] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  return { order: await client.getOrder(order), csr };
}

function expectKeyUnavailable(answer: AxiosResponse | undefined): void {
  expect(answer?.status).toBe(503);
  expect(answer?.headers['retry-after']).toBe(String(device.retryAfterSeconds));
  expect(answer?.data).toMatchObject({ type: URN + 'serverInternal', detail: expect.stringMatching(/the CA key is unavailable \(the test HSM is switched off\)/) });
}

/** The CRL lists the serial (and was signed by the intermediate: X509Crl parses what the key signed). */
function lists(der: Uint8Array, serial: string): boolean {
  return new x509.X509Crl(new Uint8Array(der)).findRevoked(serial) !== null;
}

/** An order issued while the key signs, switched on for it and back to how it was. */
async function someValidOrder(): Promise<acme.Order> {
  const wasOn = device.signing;
  device.switchOn();
  try {
    const { order, csr } = await readyOrder('issued.hsm.test');
    return await client.finalizeOrder(order, csr);
  } finally {
    if (!wasOn) device.switchOff();
  }
}

async function readiness(): Promise<{ status: number; body: { status: string; detail?: string } }> {
  const res = await fetch(`${t.baseUrl}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; detail?: string } };
}

describe('while the CA key cannot sign', () => {
  let certificatePem: string;

  it('finalize answers 503 with Retry-After, commits nothing and leaves the order ready; /ready is 503; all resume when it signs', async () => {
    const { order, csr } = await readyOrder('finalize.hsm.test');
    expect(order.status).toBe('ready');
    const before = ledgerRows();
    device.switchOff();

    await expect(client.finalizeOrder(order, csr)).rejects.toThrow(/CA key is unavailable/);
    expectKeyUnavailable(refused.at(-1));
    expect(device.refusals).toBe(1);
    expect(ledgerRows()).toEqual(before);
    expect((await client.getOrder(order)).status).toBe('ready');
    expect(await readiness()).toEqual({ status: 503, body: { status: 'unavailable', detail: 'the CA key is unavailable: the test HSM is switched off' } });

    device.switchOn();
    expect(await readiness()).toEqual({ status: 200, body: { status: 'ready' } });
    const valid = await client.finalizeOrder(order, csr);
    expect(valid.status).toBe('valid');
    certificatePem = await client.getCertificate(valid);
    expect(new X509Certificate(certificatePem).subjectAltName).toBe('DNS:finalize.hsm.test');
    expect(ledgerRows()).toMatchObject({ certificates: before.certificates + 1, processing: 0 });
    expect(t.logText()).toMatch(/the CA key is unavailable: the test HSM is switched off/);
  });

  it('revocation answers 503 with Retry-After and commits nothing; once the key is back it is revoked and on the next CRL', async () => {
    const serial = new X509Certificate(certificatePem).serialNumber.toLowerCase();
    const before = ledgerRows();
    device.switchOff();
    await expect(client.revokeCertificate(certificatePem)).rejects.toThrow(/CA key is unavailable/);
    expectKeyUnavailable(refused.at(-1));
    expect(ledgerRows()).toEqual(before);
    expect((await t.ledger.getCertificate(serial))?.status).toBe('valid');

    device.switchOn();
    await client.revokeCertificate(certificatePem);
    expect(ledgerRows()).toMatchObject({ revoked: before.revoked + 1 });
    await t.crl.check();
    const crl = t.crl.current(leafCrlIssuer(1));
    expect(crl && lists(crl.der, serial)).toBe(true);
  });

  it('a key lost after the revocation was committed: the CRL publisher says so once, keeps the revocation stale and publishes it once the key signs', async () => {
    const { order, csr } = await readyOrder('crl.hsm.test');
    const pem = await client.getCertificate(await client.finalizeOrder(order, csr));
    const serial = new X509Certificate(pem).serialNumber.toLowerCase();
    const published = t.crl.current(leafCrlIssuer(1))!.crlNumber;
    // The token goes between the state check and the signature: the revocation is committed and answered.
    device.signing = false;
    await client.revokeCertificate(pem);
    expect((await t.ledger.getCertificate(serial))?.status).toBe('revoked');
    // Each build past crl.minInterval since the one before (a refused build counts as one).
    const refusals = device.refusals;
    for (let i = 0; i < 2; i++) {
      t.clock.advance(60_000);
      await t.crl.requestRefresh();
    }
    expect(device.refusals).toBe(refusals + 2);
    expect(t.crl.current(leafCrlIssuer(1))!.crlNumber).toBe(published);
    expect((await t.ledger.crlState(leafCrlIssuer(1), t.clock.now())).dirty).toBe(true);

    device.signing = true;
    t.clock.advance(60_000);
    await t.crl.requestRefresh();
    const crl = t.crl.current(leafCrlIssuer(1))!;
    expect(crl.crlNumber).toBeGreaterThan(published);
    expect(lists(crl.der, serial)).toBe(true);
    expect(t.logText().match(/CRL signing waits for the CA key/g)?.length).toBe(1);
  });

  it('an outage is logged once, not once per refused request; an outage that goes on gets one line per interval with the count', async () => {
    const { order, csr } = await readyOrder('quiet.hsm.test');
    const lines = () => t.logText().match(/the CA key is unavailable: the test HSM is switched off/g)?.length ?? 0;
    // Past the interval of whatever the tests before logged.
    t.clock.advance(KEY_OUTAGE_LOG_INTERVAL_MS + 1);
    const before = lines();
    device.switchOff();
    for (let i = 0; i < 3; i++) {
      await expect(client.finalizeOrder(order, csr)).rejects.toThrow(/CA key is unavailable/);
      expectKeyUnavailable(refused.at(-1));
    }
    await expect(client.revokeCertificate(await client.getCertificate(await someValidOrder()))).rejects.toThrow(/CA key is unavailable/);
    expect(lines()).toBe(before + 1);

    t.clock.advance(KEY_OUTAGE_LOG_INTERVAL_MS);
    await expect(client.finalizeOrder(order, csr)).rejects.toThrow(/CA key is unavailable/);
    expect(lines()).toBe(before + 2);
    expect(t.logText()).toMatch(/the CA key is unavailable: the test HSM is switched off \(3 more requests refused for it since the last line\)/);
    device.switchOn();
    expect((await client.finalizeOrder(order, csr)).status).toBe('valid');
  });
});
