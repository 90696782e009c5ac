import { Worker } from 'node:worker_threads';
import { workerUrl } from '../../core/worker-url.js';
import type { SummaryPart } from '../summary-counts.js';
import type { SummaryParams, SummaryPartCounts } from './summary-counts-sql.js';

type Pending = Map<number, { resolve: (c: SummaryPartCounts) => void; reject: (e: Error) => void }>;

/**
 * summaryCounts' worker threads (summary-counts-worker.ts), one per group of parts, started once and
 * kept: a worker thread takes 50-90 ms to start on 2 cores, a third of what the reads themselves
 * take on 1,000,000 certificates (docs/benchmarks.md), so started ahead (start(): when the admin
 * API is built) the first computation does not wait for them. Unref'd (they never keep the process
 * alive), stopped with the ledger; one that fails is started again by the next read.
 */
export class SummaryReaders {
  private readonly slots: ({ worker: Worker; pending: Pending } | undefined)[];
  private nextId = 0;

  constructor(
    private readonly file: string,
    private readonly groups: readonly (readonly SummaryPart[])[],
  ) {
    this.slots = groups.map(() => undefined);
  }

  start(): void {
    this.groups.forEach((_, i) => this.slot(i));
  }

  /** Every group's parts, each read by its worker in one transaction. */
  read(params: SummaryParams): Promise<SummaryPartCounts[]> {
    return Promise.all(
      this.groups.map((parts, i) => {
        const { worker, pending } = this.slot(i);
        const id = this.nextId++;
        return new Promise<SummaryPartCounts>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage({ id, parts, params });
        });
      }),
    );
  }

  close(): void {
    this.slots.forEach((s, i) => {
      if (s) void s.worker.terminate();
      this.slots[i] = undefined;
    });
  }

  private slot(i: number): { worker: Worker; pending: Pending } {
    const existing = this.slots[i];
    if (existing) return existing;
    const worker = new Worker(workerUrl(import.meta.url, 'summary-counts-worker'), { workerData: { file: this.file } });
    const slot = { worker, pending: new Map() as Pending };
    worker.unref();
    worker.on('message', ({ id, counts, error }: { id: number; counts?: SummaryPartCounts; error?: string }) => {
      const p = slot.pending.get(id);
      slot.pending.delete(id);
      if (error !== undefined) p?.reject(new Error(`the summary counts reader failed: ${error}`));
      else p?.resolve(counts!);
    });
    const fail = (e: Error) => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
    };
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the summary counts reader exited with code ${code}`)));
    this.slots[i] = slot;
    return slot;
  }
}
