import type { Cluster, Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { isMessage } from './ipc-message.js';

/** One registry's metrics as getMetricsAsJSON gives them: what crosses the IPC channel. */
type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** A worker that has not answered within this is left out of the scrape (it is dying or stuck). */
const COLLECT_TIMEOUT_MS = 5_000;

/** worker → primary: scrape every worker; `ledger` is the asking worker's ledger-read gauges. */
interface ScrapeRequest {
  readonly type: 'certmint:metrics-scrape';
  readonly id: number;
  readonly ledger: MetricsJson;
}
/** primary → worker: send your own (per-process) metrics. */
interface CollectRequest {
  readonly type: 'certmint:metrics-collect';
  readonly id: number;
}
/** worker → primary: its per-process metrics. */
interface Collected {
  readonly type: 'certmint:metrics-collected';
  readonly id: number;
  readonly metrics: MetricsJson;
}
/** primary → the asking worker: the exposition text of every worker together. */
interface Scraped {
  readonly type: 'certmint:metrics-scraped';
  readonly id: number;
  readonly text: string;
}

/**
 * /metrics of a worker (server.workers > 1): any worker may get Prometheus's connection, and the
 * answer must count every worker's requests and issuances. The worker asks the primary, which
 * collects each worker's per-process registry over IPC and sums them (prom-client's
 * AggregatorRegistry.aggregate: counters and histograms add up; a metric declaring another
 * aggregator, such as certmint_build_info's `first`, keeps it). Gauges read from the ledger are
 * the same in every worker: only the asking worker's are sent, so they are not counted N times.
 */
export class WorkerMetricsChannel {
  private nextId = 0;
  private readonly pending = new Map<number, (text: string) => void>();

  constructor(private readonly processRegistry: Registry) {
    process.on('message', (m: unknown) => {
      if (isMessage<CollectRequest>(m, 'certmint:metrics-collect')) {
        void processRegistry.getMetricsAsJSON().then((metrics) => send<Collected>({ type: 'certmint:metrics-collected', id: m.id, metrics }));
      } else if (isMessage<Scraped>(m, 'certmint:metrics-scraped')) {
        this.pending.get(m.id)?.(m.text);
        this.pending.delete(m.id);
      }
    });
  }

  /** Every worker's metrics with this one's ledger gauges, as exposition text. */
  scrape(ledger: MetricsJson): Promise<string> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('the primary process did not answer a metrics scrape'));
      }, 2 * COLLECT_TIMEOUT_MS);
      this.pending.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      send<ScrapeRequest>({ type: 'certmint:metrics-scrape', id, ledger });
    });
  }
}

function send<T>(message: T): void {
  // The channel is gone when the primary is: the scrape times out; nothing else to do here.
  if (process.connected) process.send?.(message);
}

/** The primary's half: answers each worker's scrape with every live worker's metrics summed. */
export function answerMetricScrapes(cluster: Cluster, workers: () => readonly Worker[]): void {
  let nextCollect = 0;
  const collecting = new Map<number, (metrics: MetricsJson) => void>();
  cluster.on('message', (worker: Worker, m: unknown) => {
    if (isMessage<Collected>(m, 'certmint:metrics-collected')) {
      collecting.get(m.id)?.(m.metrics);
      return;
    }
    if (!isMessage<ScrapeRequest>(m, 'certmint:metrics-scrape')) return;
    const asked = workers().filter((w) => w.isConnected());
    const collected = asked.map((w) => {
      const id = nextCollect++;
      return new Promise<MetricsJson | undefined>((resolve) => {
        const timer = setTimeout(() => finish(undefined), COLLECT_TIMEOUT_MS);
        const finish = (metrics: MetricsJson | undefined) => {
          clearTimeout(timer);
          collecting.delete(id);
          resolve(metrics);
        };
        collecting.set(id, finish);
        try {
          w.send({ type: 'certmint:metrics-collect', id } satisfies CollectRequest);
        } catch {
          finish(undefined);
        }
      });
    });
    void Promise.all(collected)
      .then((all) => AggregatorRegistry.aggregate([m.ledger, ...all.filter((x): x is MetricsJson => x !== undefined)]).metrics())
      .then((text) => {
        if (worker.isConnected()) worker.send({ type: 'certmint:metrics-scraped', id: m.id, text } satisfies Scraped);
      });
  });
}
