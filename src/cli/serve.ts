import path from 'node:path';
import { LogController, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createAcmeServer } from '../acme/app.js';
import { AcmeUrls } from '../acme/urls.js';
import { loadOrInitCa, type CaOptions } from '../ca/ca-files.js';
import { nativeCryptoProvider, useCryptoProvider } from '../ca/crypto-provider.js';
import type { Config } from '../config/config.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SqliteLedger } from '../ledger/sqlite-ledger.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import type { CertificateAuthority } from '../ca/types.js';
import { CrlPublisher, type CrlPublisherOptions } from '../crl/crl-publisher.js';
import type { RaPolicy } from '../ra/deps.js';
import { RegistrationAuthority } from '../ra/registration-authority.js';
import { validateDns01 } from '../validation/dns01.js';
import { validateHttp01 } from '../validation/http01.js';
import { createResolver } from '../validation/resolver.js';
import { ServerTls, ServerTlsRenewer } from './server-tls.js';

export function caOptions(config: Config, crypto: Crypto): CaOptions {
  const urls = new AcmeUrls(config.server.baseUrl);
  return {
    dir: path.join(config.dataDir, 'ca'),
    keyAlgorithm: config.ca.keyAlgorithm,
    rootLifetimeMs: config.ca.rootLifetimeMs,
    intermediateLifetimeMs: config.ca.intermediateLifetimeMs,
    name: config.ca.name,
    crlUrl: urls.crl,
    caIssuersUrl: urls.intermediate,
    crypto,
  };
}

export function raPolicy(config: Config): RaPolicy {
  return {
    defaultLifetimeMs: config.ca.leafLifetimeMs,
    maxLifetimeMs: config.policy.maxLifetimeMs,
    orderLifetimeMs: config.policy.orderLifetimeMs,
    pendingAuthorizationLifetimeMs: config.policy.pendingAuthorizationLifetimeMs,
    authorizationLifetimeMs: config.policy.authorizationLifetimeMs,
    termsOfServiceRequired: config.acme.termsOfService !== undefined,
  };
}

export function crlPublisher(
  config: Config,
  ledger: CertificateLedger,
  ca: CertificateAuthority,
  clock: Clock,
  log: CrlPublisherOptions['log'],
): CrlPublisher {
  return new CrlPublisher({ ledger, ca, clock, dir: path.join(config.dataDir, 'crl'), policy: config.crl, log });
}

export function ledgerFile(config: Config): string {
  return path.join(config.dataDir, 'ledger.sqlite3');
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  close(): Promise<void>;
}

/** Builds every object from the config and starts listening. The composition root of `certmint serve`. */
export async function startServer(config: Config, clock: Clock = systemClock): Promise<RunningServer> {
  if (config.ledger.url) {
    throw new Error(`ledger.url is set (${config.ledger.url.replace(/\/\/[^@]*@/, '//…@')}) but only the embedded SQLite ledger exists in this version`);
  }
  // One logger for fastify and everything built before it (CA creation, CRL publishing).
  const log = pino({ level: process.env.CERTMINT_LOG_LEVEL ?? 'info' });
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  const ledger = new SqliteLedger({ file: ledgerFile(config), now: () => clock.now().getTime() });
  const { ca, created } = await loadOrInitCa({ ...caOptions(config, crypto), clock });
  const resolver = createResolver(config.validation.dnsResolvers, config.validation.timeoutMs);
  const crl = crlPublisher(config, ledger, ca, clock, log);
  const ra = new RegistrationAuthority({
    onRevoked: () => crl.requestRefresh(),
    ledger,
    ca,
    clock,
    crypto,
    policy: raPolicy(config),
    validators: {
      'http-01': (identifier, token, keyAuthorization) =>
        validateHttp01(identifier, token, keyAuthorization, {
          port: config.validation.http01Port,
          timeoutMs: config.validation.timeoutMs,
          resolver,
        }),
      'dns-01': (identifier, _token, keyAuthorization) =>
        validateDns01(identifier, keyAuthorization, { resolver, timeoutMs: config.validation.timeoutMs }),
    },
  });

  const serverTls = config.server.tls.enabled
    ? new ServerTls({
        dataDir: config.dataDir,
        hostnames: config.server.tls.hostnames,
        lifetimeMs: config.server.tls.lifetimeMs,
        ca,
        ledger,
        clock,
      })
    : undefined;
  const tls = serverTls ? await serverTls.current() : undefined;
  await crl.start();
  const app = await createAcmeServer({
    crl: (issuer) => crl.current(issuer),
    ra,
    ledger,
    ca,
    baseUrl: config.server.baseUrl,
    bodyLimit: config.server.bodyLimit,
    meta: {
      ...(config.acme.termsOfService ? { termsOfService: config.acme.termsOfService } : {}),
      ...(config.acme.website ? { website: config.acme.website } : {}),
      externalAccountRequired: config.eab.required,
    },
    fastify: {
      https: tls ? { key: tls.key, cert: tls.cert } : null,
      loggerInstance: log,
      // One line per request would cost more than the request itself under load.
      logController: new LogController({ disableRequestLogging: true }),
      // Behind a TLS-terminating proxy, the client's address comes from X-Forwarded-For.
      trustProxy: !config.server.tls.enabled,
    },
  });
  if (created) app.log.info({ dir: path.join(config.dataDir, 'ca') }, 'created a new root and intermediate CA');

  const renewer =
    serverTls && tls
      ? new ServerTlsRenewer(serverTls, app.server as import('node:https').Server, tls, clock, app.log)
      : undefined;
  renewer?.start();

  await app.listen({ host: config.server.host, port: config.server.port });
  app.log.info(`ACME directory at ${config.server.baseUrl}/directory`);
  return {
    app,
    url: config.server.baseUrl,
    async close() {
      renewer?.stop();
      crl.stop();
      await app.close();
      await ledger.close();
    },
  };
}
