import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { certmintVersion } from '../core/version.js';
import type { HttpMetrics } from '../acme/routes/metrics.js';
import type { ProblemType } from '../core/problem.js';
import type { ChallengeType } from '../core/status.js';
import type { IssuanceMetrics } from '../ra/metrics.js';
import type { DelivererCounters } from '../notify/webhook-deliverer.js';
import { registerStateGauges, type StateGaugeSources } from './state-gauges.js';

const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01'];

export interface PrometheusMetricsOptions extends StateGaugeSources {
  /** The configured profile names: their issuance counters exist (at 0) from the start. */
  readonly profiles: readonly string[];
  /** The configured `preAuthorized` policy names: their pre-authorization counters exist (at 0) from the start. */
  readonly preAuthorizedPolicies?: readonly string[];
  /** The configured webhook names: their delivery counters exist (at 0) from the start. */
  readonly webhooks?: readonly string[];
  /** server.workers > 1: scrapes answer for every worker process (worker-metrics.ts). */
  readonly workers?: (processRegistry: Registry) => WorkerScrape;
}

/** How a worker's /metrics gathers every worker's metrics. */
export interface WorkerScrape {
  scrape(ledger: Awaited<ReturnType<Registry['getMetricsAsJSON']>>): Promise<string>;
}

/**
 * certmint's metrics on a Prometheus registry of its own (one per server: tests run many servers
 * in one process, so never prom-client's global registry). Counters and histograms are updated
 * as things happen, at the cost of a label lookup; what lives in the ledger, the CA and the
 * CRLs is read when Prometheus scrapes (state-gauges.ts).
 */
export class PrometheusMetrics implements IssuanceMetrics, HttpMetrics, DelivererCounters {
  /** What this process counts and measures (requests, issuances, its heap): summed across workers. */
  readonly registry = new Registry();
  /** What is read from the ledger, the CA and the CRLs at each scrape: the same in every worker. */
  private readonly ledgerRegistry = new Registry();
  private readonly workers: WorkerScrape | undefined;
  private readonly issued: Counter<'profile'>;
  private readonly failures: Counter<'reason'>;
  private readonly validation: Histogram<'challenge_type' | 'outcome'>;
  private readonly http: Histogram<'route' | 'method' | 'status_code'>;
  private readonly connections: Counter;
  private readonly deliveries: Counter<'webhook' | 'outcome'>;
  private readonly preAuthorizations: Counter<'policy'>;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // The Prometheus convention for what is running: a constant 1 labelled with the version.
    new Gauge({
      name: 'certmint_build_info',
      help: 'certmint build information: always 1, labelled with the version.',
      labelNames: ['version'],
      registers,
      // One per server, however many worker processes serve it.
      aggregator: 'first',
    }).set(
      { version: certmintVersion() },
      1,
    );
    this.issued = new Counter({
      name: 'certmint_certificates_issued_total',
      help: 'Certificates issued (committed to the ledger), by profile.',
      labelNames: ['profile'],
      registers,
    });
    for (const profile of options.profiles) this.issued.inc({ profile }, 0);
    this.failures = new Counter({
      name: 'certmint_issuance_failures_total',
      help: 'newOrder and finalize requests refused or failed, by the RFC 8555 problem type the client got.',
      labelNames: ['reason'],
      registers,
    });
    this.preAuthorizations = new Counter({
      name: 'certmint_preauthorizations_total',
      help: 'Authorizations made valid without a challenge by a preAuthorized policy (on the strength of the account\'s EAB key), by policy.',
      labelNames: ['policy'],
      registers,
    });
    for (const policy of options.preAuthorizedPolicies ?? []) this.preAuthorizations.inc({ policy }, 0);
    this.validation = new Histogram({
      name: 'certmint_validation_duration_seconds',
      help: 'Time to validate a challenge (http-01 fetch, DNS lookup, TLS handshake, CAA), by challenge type and outcome.',
      labelNames: ['challenge_type', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    for (const challenge_type of CHALLENGE_TYPES) {
      for (const outcome of ['valid', 'invalid']) this.validation.zero({ challenge_type, outcome });
    }
    this.http = new Histogram({
      name: 'certmint_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.connections = new Counter({
      name: 'certmint_http_connections_total',
      help: 'Connections accepted by the HTTP listeners (over TLS each one a full handshake); far more than requests in a while means clients are not keeping their connections.',
      registers,
    });
    this.deliveries = new Counter({
      name: 'certmint_notification_attempts_total',
      help: 'Webhook delivery attempts by this instance, by webhook and outcome: delivered, retry (failed, tried again later) or failed (gave up).',
      labelNames: ['webhook', 'outcome'],
      registers,
    });
    for (const webhook of options.webhooks ?? []) for (const outcome of ['delivered', 'retry', 'failed']) this.deliveries.inc({ webhook, outcome }, 0);
    const ledger = options.ledger;
    const ledgerRegisters = [this.ledgerRegistry];
    // Read at each scrape (two counts on partial indexes); the same on every instance of a shared ledger.
    new Gauge({
      name: 'certmint_notification_deliveries',
      help: 'Webhook deliveries in the outbox not delivered yet (state="pending") and given up after notifications.maxAttempts (state="failed").',
      labelNames: ['state'],
      registers: ledgerRegisters,
      async collect() {
        const counts = await ledger.outbox.deliveryCounts();
        this.set({ state: 'pending' }, counts.pending);
        this.set({ state: 'failed' }, counts.failed);
      },
    });
    registerStateGauges(this.ledgerRegistry, options);
    this.workers = options.workers?.(this.registry);
  }

  certificateIssued(profile: string): void {
    this.issued.inc({ profile });
  }

  issuanceFailed(reason: ProblemType): void {
    this.failures.inc({ reason });
  }

  validationFinished(type: ChallengeType, outcome: 'valid' | 'invalid', seconds: number): void {
    this.validation.observe({ challenge_type: type, outcome }, seconds);
  }

  preAuthorized(policy: string, count: number): void {
    this.preAuthorizations.inc({ policy }, count);
  }

  connectionAccepted(): void {
    this.connections.inc();
  }

  requestFinished(route: string, method: string, statusCode: number, seconds: number): void {
    this.http.observe({ route, method, status_code: statusCode }, seconds);
  }

  attempt(webhook: string, outcome: 'delivered' | 'retry' | 'failed'): void {
    this.deliveries.inc({ webhook, outcome });
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    const body = this.workers
      ? await this.workers.scrape(await this.ledgerRegistry.getMetricsAsJSON())
      : await Registry.merge([this.registry, this.ledgerRegistry]).metrics();
    return { contentType: this.registry.contentType, body };
  }
}
