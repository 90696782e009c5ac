import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LogController, type FastifyInstance } from 'fastify';
import { createAcmeServer } from '../../src/acme/app.js';
import { AcmeUrls } from '../../src/acme/urls.js';
import { registerAdmin } from '../../src/admin/admin-server.js';
import { problemErrorHandler, sendProblem } from '../../src/acme/problem-handler.js';
import { loadOrInitCa, type CaOptions } from '../../src/ca/ca-files.js';
import type { CaKeyProvider } from '../../src/ca/key-provider.js';
import { SecretBox } from '../../src/ca/secret-box.js';
import { nativeCryptoProvider, useCryptoProvider } from '../../src/ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../../src/ca/x509-authority.js';
import { ManualClock } from '../../src/core/clock.js';
import { CrlPublisher } from '../../src/crl/crl-publisher.js';
import type { CertificateLedger } from '../../src/ledger/ledger.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import type { RegistrationAuthority } from '../../src/ra/registration-authority.js';
import { directoryMeta, registrationAuthority } from '../../src/cli/composition.js';
import { PrometheusMetrics } from '../../src/cli/prometheus-metrics.js';
import { loadConfig } from '../../src/config/config.js';
import { startChallTestSrv, type ChallTestSrv } from './challtestsrv.js';
import { startHttp01Responder, type Http01Responder } from './http01-responder.js';
import { startTlsAlpn01Responder, type TlsAlpn01Responder } from './tls-alpn01-responder.js';
import { checkCapturedLog } from './secret-scan.js';
import { capturedLogger } from './suite-log.js';
import { twoWorkerNonces } from './in-process-nonce-routes.js';

const DAY = 86_400_000;

export interface TestAcmeApp {
  readonly app: FastifyInstance;
  readonly baseUrl: string;
  readonly ledger: CertificateLedger;
  readonly ca: X509CertificateAuthority;
  readonly clock: ManualClock;
  readonly dns: ChallTestSrv;
  readonly responder: Http01Responder;
  readonly tlsResponder: TlsAlpn01Responder;
  readonly ra: RegistrationAuthority;
  readonly dir: string;
  readonly crl: CrlPublisher;
  /** With the `metrics` option: what GET /metrics serves, wired as `certmint serve` wires it. */
  readonly metrics: PrometheusMetrics | undefined;
  /** Everything the app logged (at debug level: fastify, the problem handler, CRL publishing, background validation). */
  logText(): string;
  /** Closes everything; rejects when a log line held a secret of this app's data dir (after removing it all). */
  close(): Promise<void>;
}

export interface TestAcmeAppOptions {
  readonly baseUrl?: string;
  readonly validationTimeoutMs?: number;
  /** CERTMINT_* settings over the shipped defaults, as an operator would set them. */
  readonly env?: Readonly<Record<string, string>>;
  /** A YAML config file's text (for what has no environment variable, like `policies`). */
  readonly configYaml?: string;
  /**
   * An existing data dir (its CA and ledger are loaded, as a restarted server loads them), which
   * the caller removes; default: a new temporary one, removed by close().
   */
  readonly dir?: string;
  /**
   * The ledger to serve from, opened with the app's clock, instead of a new SQLite file in the
   * data dir: a PostgresLedger on a test's own cluster. The app closes it.
   */
  readonly ledger?: (now: () => number) => Promise<CertificateLedger>;
  /** Build Prometheus metrics (GET /metrics); countsCacheMs 0 lets a test see every change at once. */
  readonly metrics?: { readonly countsCacheMs?: number };
  /** Where the CA keys live, given the CA's options (default: the file provider on its directory). */
  readonly keyProvider?: (ca: CaOptions) => CaKeyProvider;
  /** Serve the admin API on the app, as `certmint serve` does with admin.enabled and no admin.listen. */
  readonly admin?: boolean;
}

/** A request to the app's admin API through inject: `authorization` sent as given ("Bearer …"), a body as JSON. */
export function adminApiRequest(app: FastifyInstance, method: 'GET' | 'POST', url: string, authorization?: string, body?: unknown) {
  return app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { ...(authorization !== undefined ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

/** The `ledger` option for a PostgreSQL database at `url`; none (SQLite in the data dir) without one. */
export function postgresLedgerOption(url: string | undefined): Pick<TestAcmeAppOptions, 'ledger'> {
  if (url === undefined) return {};
  return { ledger: async (now) => (await openLedger({ sqliteFile: '', postgres: { url, passwordFile: undefined, poolSize: 4 }, now })).ledger };
}

/**
 * The real ACME app on a temporary data dir: real SQLite ledger, real CA, real http-01 and
 * tls-alpn-01 validation against real responders on loopback, names answered by
 * pebble-challtestsrv (127.0.0.1), the RA composed by the same function as `certmint serve`.
 * Only the clock is under the test's control.
 */
export async function startTestAcmeApp(o: TestAcmeAppOptions = {}): Promise<TestAcmeApp> {
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), 'certmint-app-'));
  // Logged like `certmint serve` (one pino logger for everything), at debug level, kept and scanned on close.
  const captured = capturedLogger('acme-app');
  const log = captured.log;
  const baseUrl = o.baseUrl ?? 'https://acme.test:8443';
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  const clock = new ManualClock();
  const now = () => clock.now().getTime();
  // CERTMINT_TEST_SQLITE_WORKERS=1: the ledger as a worker of server.workers opens it (a
  // ledger_holders row; nonces under the ledger's secret, issued and spent by two workers in turn,
  // half of them redeemed at the other worker), to run an inject suite in that configuration.
  const asWorker = process.env.CERTMINT_TEST_SQLITE_WORKERS === '1' ? { workers: { first: true, nonces: twoWorkerNonces(now) } } : {};
  const ledger = o.ledger ? await o.ledger(now) : new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3'), now, ...asWorker });
  const dns = await startChallTestSrv();
  const responder = await startHttp01Responder();
  const tlsResponder = await startTlsAlpn01Responder();
  const configFile = path.join(dir, 'certmint.yaml');
  writeFileSync(configFile, o.configYaml ?? '{}\n');
  const config = loadConfig({
    file: configFile,
    env: {
      CERTMINT_SERVER_BASE_URL: baseUrl,
      CERTMINT_VALIDATION_HTTP01_PORT: String(responder.port),
      CERTMINT_VALIDATION_TLS_ALPN01_PORT: String(tlsResponder.port),
      CERTMINT_VALIDATION_DNS_RESOLVERS: dns.dnsAddress,
      CERTMINT_VALIDATION_TIMEOUT: `${o.validationTimeoutMs ?? 2000}ms`,
      ...o.env,
    },
  });
  const caOptions: CaOptions = {
    dir: path.join(dir, 'ca'),
    keyAlgorithm: 'ecdsa-p256',
    rootLifetimeMs: 3650 * DAY,
    intermediateLifetimeMs: 1825 * DAY,
    name: 'certmint test',
    crlUrl: `${baseUrl}/crl`,
    crlPartitions: config.crl.partitions,
    caIssuersUrl: `${baseUrl}/intermediate.der`,
    crypto,
  };
  const { ca } = await loadOrInitCa(o.keyProvider ? { ...caOptions, keyProvider: o.keyProvider(caOptions) } : caOptions);
  const crl = new CrlPublisher({
    ledger,
    ca,
    clock,
    dir: path.join(dir, 'crl'),
    policy: { validityMs: DAY, refreshMs: DAY / 24, rootValidityMs: 30 * DAY, checkIntervalMs: 60_000, minIntervalMs: config.crl.minIntervalMs, partitions: config.crl.partitions },
    log,
  });
  await crl.check();
  const ledgerFile = path.join(dir, 'ledger.sqlite3');
  const metrics = o.metrics
    ? new PrometheusMetrics({
        ledger,
        ca,
        clock,
        crl: (issuer) => crl.current(issuer),
        ledgerFiles: [ledgerFile, `${ledgerFile}-wal`],
        profiles: Object.keys(config.profiles),
        preAuthorizedPolicies: Object.entries(config.policies).flatMap(([name, p]) => (p.preAuthorized ? [name] : [])),
        ...o.metrics,
      })
    : undefined;
  const ra = registrationAuthority(config, {
    metrics,
    onRevoked: () => crl.requestRefresh(),
    onBackgroundError: (err) => log.error({ err }, 'a background validation could not record its outcome'),
    ledger,
    ca,
    clock,
    crypto,
    secrets: await SecretBox.open(path.join(dir, 'ca')),
  });
  const app = await createAcmeServer({
    ra, ledger, ca, clock, baseUrl, bodyLimit: 65536, meta: directoryMeta(config), ordersPageSize: 2, crl: (issuer) => crl.current(issuer), metrics,
    fastify: { loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) },
  });
  if (o.admin) await registerAdmin(app, new AcmeUrls(baseUrl).prefix, { ra, ledger, clock, ca, problems: { send: sendProblem, errorHandler: problemErrorHandler } });
  return {
    app,
    baseUrl,
    ledger,
    ca,
    clock,
    dns,
    responder,
    tlsResponder,
    ra,
    dir,
    crl,
    metrics,
    logText: captured.text,
    async close() {
      await crl.stop();
      await app.close();
      await ra.settled();
      await ledger.close();
      await responder.stop();
      await tlsResponder.stop();
      await dns.stop();
      try {
        // No CA key material, EAB key or sealing key in anything the app logged, whatever the test did.
        await checkCapturedLog(captured, dir);
      } finally {
        if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
