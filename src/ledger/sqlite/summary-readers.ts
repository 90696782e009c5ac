import { Worker } from 'node:worker_threads';
import { workerUrl } from '../../core/worker-url.js';
import type { SummaryPart } from '../summary-counts.js';
import type { SummaryParams, SummaryPartCounts } from './summary-counts-sql.js';

/**
 * summaryCounts' worker threads (summary-counts-worker.ts), one per group of parts, each for one
 * computation. A worker thread takes 50-90 ms to start on 2 cores, a third of what the reads take
 * on 1,000,000 certificates (docs/benchmarks.md), so those of the first computation (the one a
 * request may wait for) are started ahead: start(), when the admin API is built. Later ones start
 * with their computation (in the background: requests get the cached figures meanwhile). None is
 * kept after its computation: two idle threads would hold about 30 MB. One waiting for its
 * computation does not keep the process alive; close() stops those not yet used.
 */
export class SummaryReaders {
  private readonly started: (Worker | undefined)[];

  constructor(
    private readonly file: string,
    private readonly groups: readonly (readonly SummaryPart[])[],
  ) {
    this.started = groups.map(() => undefined);
  }

  start(): void {
    this.groups.forEach((_, i) => {
      if (this.started[i]) return;
      const worker = this.spawn();
      // One that dies while it waits is not handed a computation.
      worker.once('exit', () => {
        if (this.started[i] === worker) this.started[i] = undefined;
      });
      this.started[i] = worker;
    });
  }

  /** Every group's parts, each read by its worker in one transaction. */
  read(params: SummaryParams): Promise<SummaryPartCounts[]> {
    return Promise.all(
      this.groups.map((parts, i) => {
        const worker = this.started[i] ?? this.spawn();
        this.started[i] = undefined;
        // Waited for now: it keeps the process alive until it answers.
        worker.ref();
        return new Promise<SummaryPartCounts>((resolve, reject) => {
          worker.once('message', ({ counts, error }: { counts?: SummaryPartCounts; error?: string }) =>
            error === undefined ? resolve(counts!) : reject(new Error(`the summary counts reader failed: ${error}`)),
          );
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`the summary counts reader exited with code ${code}`)));
          worker.postMessage({ file: this.file, parts, params });
        });
      }),
    );
  }

  close(): void {
    this.started.forEach((worker, i) => {
      if (worker) void worker.terminate();
      this.started[i] = undefined;
    });
  }

  private spawn(): Worker {
    const worker = new Worker(workerUrl(import.meta.url, 'summary-counts-worker'));
    worker.unref();
    return worker;
  }
}
