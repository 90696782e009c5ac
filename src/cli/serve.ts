import type { Server as HttpsServer } from 'node:https';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createAcmeServer } from '../acme/app.js';
import { createPublicationServer } from '../acme/publication-app.js';
import { AcmeUrls } from '../acme/urls.js';
import { problemErrorHandler, sendProblem } from '../acme/problem-handler.js';
import { nativeCryptoProvider, useCryptoProvider } from '../ca/crypto-provider.js';
import { ConfigError, type Config } from '../config/config.js';
import { adminIssuerFiles, readAdminIssuerCertificate } from '../ca/admin-issuer.js';
import { certificatePemOf } from '../ca/ca-certificates.js';
import { CaError, caFilePaths, fileExists } from '../ca/ca-file-io.js';
import { NO_NAME_CONSTRAINTS } from '../ca/name-constraints.js';
import { nameConstraintsDrift, serverHostnamesRefusal, underExternalRoot } from './name-constraints-check.js';
import { OffsetClock, systemClock, type Clock } from '../core/clock.js';
import { describeOffset, FAKE_CLOCK_ENV } from './fake-clock.js';
import { EMAIL_TARGET } from '../core/notification-events.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { NonceStore } from '../ledger/ledger.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { loadCaOfLedger } from './ca-identity.js';
import { ledgerUnavailable } from '../ledger/storage-failure.js';
import { EmailChannel, heloNameOf, loadSmtpRelay } from '../notify/email-channel.js';
import { loadWebhooks } from '../notify/secrets.js';
import { CaCrlCheck } from '../notify/ca-crl-check.js';
import { RenewalRiskCheck } from '../notify/renewal-risk-check.js';
import { WebhookDeliverer } from '../notify/webhook-deliverer.js';
import { secureContextTargets, ServerTls, ServerTlsRenewer } from './server-tls.js';
import type { Registry } from 'prom-client';
import { PrometheusMetrics, type WorkerScrape } from './prometheus-metrics.js';
import { auditCaEvent } from './ca-audit.js';
import { openCaKeySource } from './ca-key-source.js';
import { boundConnections, listenerOptions, tellWorker } from './listeners.js';
import { accessPolicies, caOptions, crlPublisher, directoryMeta, ledgerSettings, registrationAuthority, secretBox } from './composition.js';

/** How often `serve` looks for work a stopped instance left (start-up looks first). */
const RECOVERY_INTERVAL_MS = 60_000;
/** How often `serve` tries again to end its own work the ledger refused (while there is any). */
const SETTLE_INTERVAL_MS = 5_000;
/** Workers renew the server's TLS certificate this far apart, so the later ones take the first one's. */
const TLS_RENEWAL_STAGGER_MS = 60_000;
/** How often `serve` purges what expired past ledger.retention (and once when it starts listening). */
const PURGE_INTERVAL_MS = 3_600_000;

export interface RunningServer {
  readonly app: FastifyInstance;
  /** The plain-HTTP listener of publication.listen, when configured. */
  readonly publication: FastifyInstance | undefined;
  /** The admin API's own listener (admin.listen), when configured and admin.enabled. */
  readonly admin: FastifyInstance | undefined;
  readonly url: string;
  close(): Promise<void>;
}

/** This process is one of server.workers > 1 worker processes (serve-workers.ts). */
export interface WorkerRole {
  /** The cluster's worker id: a restarted worker gets a new one. Sent as Certmint-Worker on every response. */
  readonly id: number;
  /** The first worker of a start: no other process serves the ledger yet (it forgets the last start's holders). */
  readonly first: boolean;
  readonly metrics: (processRegistry: Registry) => WorkerScrape;
  /** The worker's nonce store under the ledger's nonce secret (SQLite; a PostgreSQL ledger shares its own). */
  readonly nonces: (secret: Buffer) => NonceStore;
}

/** Builds every object from the config and starts listening. The composition root of `certmint serve`. */
export async function startServer(config: Config, clock: Clock = systemClock, worker?: WorkerRole): Promise<RunningServer> {
  // Refuse a policy, a webhook secret or an SMTP credential that cannot be read before anything is created on disk.
  accessPolicies(config);
  const webhooks = loadWebhooks(config.notifications.webhooks);
  const email = config.notifications.email;
  const smtpRelay = email ? loadSmtpRelay(email, heloNameOf(config.server.baseUrl)) : undefined;
  // One logger for fastify and everything built before it (CA creation, CRL publishing).
  const log = pino({ level: process.env.CERTMINT_LOG_LEVEL ?? 'info' });
  if (clock instanceof OffsetClock) {
    log.warn(
      { fakeClock: clock.now().toISOString(), offsetSeconds: Math.round(clock.offsetMs / 1000) },
      `${FAKE_CLOCK_ENV} is set: this server runs on a fake clock, ${describeOffset(clock.offsetMs)} the host's (a test setting; production must never set it)`,
    );
  }
  const crypto = nativeCryptoProvider();
  useCryptoProvider(crypto);
  // Parses ca.nameConstraints: a bad entry stops the start here, naming it.
  const options = caOptions(config, crypto);
  const configuredConstraints = options.nameConstraints ?? NO_NAME_CONSTRAINTS;
  // A first start creates the intermediate with ca.nameConstraints: refuse before anything is written.
  const refusedAtCreation = config.server.tls.enabled ? serverHostnamesRefusal(config.server.tls.hostnames, configuredConstraints) : undefined;
  // An unreadable CA directory is reported by the CA's loading below, with its own message.
  if (refusedAtCreation && !(await fileExists(caFilePaths(options.dir).intermediateCert).catch(() => true))) {
    throw new ConfigError(refusedAtCreation);
  }
  // The token (ca.keyProvider pkcs11) first: a wrong PIN or a missing key refuses the start before
  // any ledger or CA file exists. Its state changes are one warn line each, never the PIN.
  const keys = await openCaKeySource(config, { ...options, clock }, (line) => log.warn(line));
  const { ledger, files: ledgerFiles } = await openLedger({
    ...ledgerSettings(config),
    now: () => clock.now().getTime(),
    // The pool replaces the connection; requests meanwhile get 503 and /ready says why.
    onIdleError: (err) => log.warn({ err: err.message }, 'a ledger connection broke while idle'),
    ...(worker ? { workers: { first: worker.first, nonces: worker.nonces } } : {}),
  }).catch(async (e: unknown) => {
    await keys.close();
    throw e;
  });
  let ca: X509CertificateAuthority;
  let created: boolean;
  try {
    ({ ca, created } = await loadCaOfLedger(ledger, { ...keys.options, clock }));
  } catch (e) {
    await keys.close();
    await ledger.close();
    throw e;
  }
  // The active intermediate's constraints bind, whatever the config says now (an imported one's too).
  const hostnamesRefusal = config.server.tls.enabled ? serverHostnamesRefusal(config.server.tls.hostnames, ca.nameConstraints) : undefined;
  if (hostnamesRefusal) {
    await keys.close();
    await ledger.close();
    throw new ConfigError(hostnamesRefusal);
  }
  const drift = nameConstraintsDrift(configuredConstraints, ca.nameConstraints, underExternalRoot(ca));
  if (drift) log.warn(drift);
  const crl = crlPublisher(config, ledger, ca, clock, log);
  const metrics = new PrometheusMetrics({
    ledger,
    ca,
    clock,
    crl: (issuer) => crl.current(issuer),
    ledgerFiles,
    profiles: Object.keys(config.profiles),
    preAuthorizedPolicies: Object.entries(config.policies).flatMap(([name, p]) => (p.preAuthorized ? [name] : [])),
    webhooks: [...webhooks.map((w) => w.name), ...(email ? [EMAIL_TARGET] : [])],
    ...(worker ? { workers: worker.metrics } : {}),
  });
  const ra = registrationAuthority(config, {
    metrics,
    secrets: await secretBox(config),
    onRevoked: () => crl.requestRefresh(),
    onBackgroundError: (err) => {
      const unavailable = ledgerUnavailable(err);
      if (unavailable) log.warn({ err: (err as Error).message }, `a background validation could not record its outcome: ${unavailable}; it is validated again once the ledger is back`);
      else log.error({ err }, 'a background validation could not record its outcome');
    },
    ledger,
    ca,
    clock,
    crypto,
  });
  const recover = async () => {
    const recovered = await ra.recoverInterruptedWork();
    if (recovered.failedOrders > 0 || recovered.revalidating > 0) {
      log.warn(recovered, 'a certmint process stopped in the middle of work: orders being finalized were failed (clients create new ones), challenges being validated are validated again');
    }
  };
  await recover();
  // Another instance on a shared ledger may stop for good: its work is taken over once its lease runs out.
  const recovery = setInterval(() => {
    recover().catch((err: unknown) => log.warn({ err }, 'looking for interrupted work failed; retrying in a minute'));
  }, RECOVERY_INTERVAL_MS);
  recovery.unref();
  // Its own work the ledger refused to end (its database was gone): ended once the ledger is back.
  const settling = setInterval(() => {
    if (ra.unsettledWork === 0) return;
    ra.settleUnsettledWork().then(
      (settled) => log.warn(settled, 'the ledger is back: orders whose finalize it refused were failed, challenges whose outcome it refused are validated again'),
      (err: unknown) => log.debug({ err: (err as Error).message }, 'the ledger still refuses to settle unfinished work; retrying'),
    );
  }, SETTLE_INTERVAL_MS);
  settling.unref();
  if (config.validation.testFailureRate > 0) {
    log.warn(`validation.testFailureRate is ${config.validation.testFailureRate}: that share of validations fails on purpose (a test setting)`);
  }

  const serverTls = config.server.tls.enabled
    ? new ServerTls({
        dataDir: config.dataDir,
        hostnames: config.server.tls.hostnames,
        lifetimeMs: config.server.tls.lifetimeMs,
        ra,
        ca,
        clock,
      })
    : undefined;
  const tls = serverTls ? await serverTls.current() : undefined;
  await crl.start();
  const { webhooks: _, ...notificationSettings } = config.notifications;
  const channels =
    email && smtpRelay
      ? [
          new EmailChannel({
            accounts: ledger,
            relay: smtpRelay,
            from: email.from,
            events: email.events,
            timeoutMs: config.notifications.timeoutMs,
            clock,
            directoryUrl: `${config.server.baseUrl}/directory`,
          }),
        ]
      : [];
  const deliverer = new WebhookDeliverer({
    ledger: ledger.outbox,
    webhooks,
    channels,
    settings: notificationSettings,
    clock,
    source: config.server.baseUrl,
    log,
    counters: metrics,
  });
  // certificate.renewal-overdue and certificate.expiring-unrenewed, once per certificate, every
  // minute; then ca.expiring and crl.stale, once per CA certificate and per stale CRL.
  const caCrlCheck = new CaCrlCheck({ ledger, ca, clock, caExpiringWithinMs: config.notifications.caExpiringWithinMs });
  const riskCheck = new RenewalRiskCheck({
    ledger: ledger.outbox,
    clock,
    expiringWithinMs: config.notifications.expiringWithinMs,
    log,
    siblings: [{ name: 'CA and CRL', checkOnce: () => caCrlCheck.checkOnce() }],
  });
  const app = await createAcmeServer({
    crl: (issuer) => crl.current(issuer),
    clock,
    metrics,
    ra,
    ledger,
    ca,
    baseUrl: config.server.baseUrl,
    bodyLimit: config.server.bodyLimit,
    bodyTimeoutMs: config.server.bodyTimeoutMs,
    meta: directoryMeta(config),
    fastify: {
      ...listenerOptions(config, log, tls, { http2: config.server.http2 }),
      // X-Forwarded-For names the client only when a listed proxy sent the request: anyone else
      // could spell a new address per request and never meet the per-address limits.
      trustProxy: config.server.trustedProxies.length > 0 ? [...config.server.trustedProxies] : false,
    },
  });
  boundConnections(app, config);
  if (worker) tellWorker(app, worker.id);
  // admin.enabled: the admin API on the ACME listener, or alone on admin.listen (an internal
  // address), with the same TLS certificate and the same connection bounds.
  const adminApi = { ra, ledger, clock, ca, problems: { send: sendProblem, errorHandler: problemErrorHandler } };
  // Loaded only with admin.enabled: the admin API and the console stay out of an ACME-only start.
  const { createAdminServer, registerAdmin } = config.admin.enabled ? await import('../admin/admin-server.js') : {};
  if (registerAdmin && !config.admin.listen) await registerAdmin(app, new AcmeUrls(config.server.baseUrl).prefix, adminApi);
  // admin.clientCertificates (only with admin.listen and TLS, config.ts): that listener asks for a
  // client certificate and trusts the admin issuer alone for it; an unverified one is let through
  // the handshake (rejectUnauthorized: false) so a token still works, and refused by the API.
  const clientCa = config.admin.enabled && config.admin.clientCertificates ? await adminClientCa(config.dataDir) : undefined;
  const adminListener = listenerOptions(config, log, tls);
  const admin =
    createAdminServer && config.admin.listen
      ? await createAdminServer({
          ...adminApi,
          clientCertificates: clientCa !== undefined,
          fastify: clientCa && adminListener.https ? { ...adminListener, https: { ...adminListener.https, requestCert: true, rejectUnauthorized: false, ca: [clientCa] } } : adminListener,
        })
      : undefined;
  if (admin) boundConnections(admin, config);
  if (admin && worker) tellWorker(admin, worker.id);
  // publication.listen: the same CRLs and CA certificates over plain HTTP, under the same bounds
  // (it is as exposed as the HTTPS listener, and CRL downloads are its heaviest answers).
  const publication = config.publication.listen
    ? await createPublicationServer({
        ca,
        baseUrl: config.publication.baseUrl ?? config.server.baseUrl,
        crl: (issuer) => crl.current(issuer),
        clock,
        metrics,
        fastify: {
          ...listenerOptions(config, log, undefined),
          // Without TLS no handshake timeout closes a connection that never sends a byte, and Node's
          // headersTimeout starts only with the first one: an idle socket is closed after as long.
          connectionTimeout: config.server.headersTimeoutMs,
        },
      })
    : undefined;
  if (publication) boundConnections(publication, config);
  if (created) {
    await auditCaEvent(ledger, 'ca-init', ca, 'certmint', clock.now());
    app.log.info({ dir: path.join(config.dataDir, 'ca') }, 'created a new root and intermediate CA');
  }

  const renewer =
    serverTls && tls
      ? new ServerTlsRenewer(serverTls, secureContextTargets([{ server: app.server as HttpsServer }, { server: admin?.server as HttpsServer | undefined, ca: clientCa }]), tls, clock, app.log, worker && { staggerMs: TLS_RENEWAL_STAGGER_MS * ((worker.id - 1) % 16) })
      : undefined;
  renewer?.start();

  // The plain-HTTP listener first: a port it cannot bind stops the start before ACME is served.
  if (publication && config.publication.listen) {
    await publication.listen({ host: config.publication.listen.host, port: config.publication.listen.port }).catch((e: unknown) => {
      // Node's message names the address, not the key: say which listener could not bind.
      if (e instanceof Error) e.message = `publication.listen: ${e.message}`;
      throw e;
    });
  }
  if (admin && config.admin.listen) {
    await admin.listen({ host: config.admin.listen.host, port: config.admin.listen.port }).catch(async (e: unknown) => {
      if (e instanceof Error) e.message = `admin.listen: ${e.message}`;
      await publication?.close();
      throw e;
    });
  }
  await app.listen({ host: config.server.host, port: config.server.port });
  keys.watch((message) => app.log.warn(`asking the PKCS#11 token whether it is present failed: ${message}`));
  app.log.info(`ACME directory at ${config.server.baseUrl}/directory`);
  if (publication) app.log.info(`CRLs and CA certificates over plain HTTP at ${config.publication.baseUrl} (publication.listen)`);
  // Background work starts once the API is served: its first rounds (the outbox, the risk and CA
  // checks' ledger reads) no longer hold the start back (issue 27), and a start that cannot listen
  // delivers nothing.
  await deliverer.start();
  riskCheck.start();
  // ledger.retention: expired orders, authorizations and challenges leave the ledger in small
  // batches (ra/retention.ts). One run at a time; instances on a shared ledger may overlap, each
  // batch is a transaction of its own and a row is deleted once.
  let purging: Promise<void> | undefined;
  const stopPurging = new AbortController();
  const purge = (): void => {
    if (purging || config.ledger.retentionMs <= 0) return;
    purging = ra
      .purgeExpired(config.ledger.retentionMs, { signal: stopPurging.signal })
      .then(
        (run) => {
          if (run.orders + run.authorizations + run.challenges > 0) app.log.info(run, 'purged orders, authorizations and challenges past ledger.retention');
        },
        (err: unknown) => app.log.warn({ err }, 'purging expired orders failed; retrying at the next run'),
      )
      .finally(() => {
        purging = undefined;
      });
  };
  purge();
  const purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
  purgeTimer.unref();
  return {
    app,
    publication,
    admin,
    url: config.server.baseUrl,
    async close() {
      clearInterval(recovery);
      clearInterval(settling);
      clearInterval(purgeTimer);
      stopPurging.abort();
      renewer?.stop();
      await crl.stop();
      await riskCheck.stop();
      await deliverer.stop();
      // Each waits for its open connections (at most server.headersTimeout for one that sent nothing).
      await Promise.all([publication?.close(), admin?.close(), app.close()]);
      // Validations answered `processing` record their outcome before the ledger closes; those
      // still waiting for a slot are left `processing`, for the next start to validate.
      ra.stopStartingValidations();
      await ra.settled();
      // A purge run stops after its current batch (aborted above): the ledger stays open until then.
      await purging;
      // Signatures still in flight finish before the token's sessions close.
      await keys.close();
      await ledger.close();
    },
  };
}

/** The admin issuer's certificate (PEM), which `certmint admin cert create` made; the server never reads its key. */
async function adminClientCa(dataDir: string): Promise<string> {
  const issuer = await readAdminIssuerCertificate(dataDir);
  if (!issuer) {
    throw new CaError(`admin.clientCertificates is true but ${adminIssuerFiles(dataDir).cert} does not exist yet: create the first admin certificate with certmint admin cert create`);
  }
  return certificatePemOf(issuer);
}
