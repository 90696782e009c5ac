import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createAcmeServer } from '../../src/acme/app.js';
import { initCa } from '../../src/ca/ca-files.js';
import { nativeCryptoProvider, useCryptoProvider } from '../../src/ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../../src/ca/x509-authority.js';
import { ManualClock } from '../../src/core/clock.js';
import { CrlPublisher } from '../../src/crl/crl-publisher.js';
import { SqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import { RegistrationAuthority } from '../../src/ra/registration-authority.js';
import { raPolicy } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/config.js';
import { validateDns01 } from '../../src/validation/dns01.js';
import { validateHttp01 } from '../../src/validation/http01.js';
import { createResolver } from '../../src/validation/resolver.js';
import { startChallTestSrv, type ChallTestSrv } from './challtestsrv.js';
import { startHttp01Responder, type Http01Responder } from './http01-responder.js';

const DAY = 86_400_000;

export interface TestAcmeApp {
  readonly app: FastifyInstance;
  readonly baseUrl: string;
  readonly ledger: SqliteLedger;
  readonly ca: X509CertificateAuthority;
  readonly clock: ManualClock;
  readonly dns: ChallTestSrv;
  readonly responder: Http01Responder;
  readonly dir: string;
  readonly crl: CrlPublisher;
  close(): Promise<void>;
}

/**
 * The real ACME app on a temporary data dir: real SQLite ledger, real CA, real http-01 validation
 * against a real responder on loopback, names answered by pebble-challtestsrv (127.0.0.1).
 * Only the clock is under the test's control.
 */
export async function startTestAcmeApp(o: { baseUrl?: string; validationTimeoutMs?: number } = {}): Promise<TestAcmeApp> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-app-'));
  const baseUrl = o.baseUrl ?? 'https://acme.test:8443';
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  const clock = new ManualClock();
  const ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3'), now: () => clock.now().getTime() });
  const ca = await initCa({
    dir: path.join(dir, 'ca'),
    keyAlgorithm: 'ecdsa-p256',
    rootLifetimeMs: 3650 * DAY,
    intermediateLifetimeMs: 1825 * DAY,
    name: 'certmint test',
    crlUrl: `${baseUrl}/crl`,
    caIssuersUrl: `${baseUrl}/intermediate.der`,
    crypto,
  });
  const dns = await startChallTestSrv();
  const responder = await startHttp01Responder();
  const timeoutMs = o.validationTimeoutMs ?? 2000;
  const resolver = createResolver([dns.dnsAddress], timeoutMs);
  const crl = new CrlPublisher({
    ledger,
    ca,
    clock,
    dir: path.join(dir, 'crl'),
    policy: { validityMs: DAY, refreshMs: DAY / 24, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000 },
    log: { info: () => undefined, error: () => undefined },
  });
  await crl.check();
  const ra = new RegistrationAuthority({
    onRevoked: () => crl.requestRefresh(),
    ledger,
    ca,
    clock,
    crypto,
    // The shipped defaults (45-day leaves, 90-day maximum, …), as `certmint serve` builds them.
    policy: raPolicy(loadConfig({ env: {} })),
    validators: {
      'http-01': (id, token, keyAuth) =>
        validateHttp01(id, token, keyAuth, { port: responder.port, timeoutMs, resolver }),
      'dns-01': (id, _token, keyAuth) => validateDns01(id, keyAuth, { resolver, timeoutMs }),
    },
  });
  const app = await createAcmeServer({
    ra, ledger, ca, baseUrl, bodyLimit: 65536, meta: {}, ordersPageSize: 2, crl: (issuer) => crl.current(issuer),
  });
  return {
    app,
    baseUrl,
    ledger,
    ca,
    clock,
    dns,
    responder,
    dir,
    crl,
    async close() {
      crl.stop();
      await app.close();
      await ledger.close();
      await responder.stop();
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
