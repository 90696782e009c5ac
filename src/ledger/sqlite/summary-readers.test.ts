import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import { SqliteLedger } from './ledger.js';
import { SUMMARY_WORKERS } from './metrics.js';

// summaryCounts' worker threads are kept between computations: one that dies (out of memory, a
// crash) must not leave the summary waiting forever; the next computation starts another.
const now = new Date('2026-06-01T00:00:00Z');
let dir: string;
let ledger: SqliteLedger;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-summary-readers-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount(accountRecord('a1', 't1', now));
  await ledger.insertCertificate(certificateRecord('01', ['01.example.internal'], 3, now));
});

afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The kept worker threads (private to SqliteMetrics' readers: a test reaches in to kill them). */
const readerWorkers = () =>
  (ledger as unknown as { metrics: { summaryReaders: { slots: ({ worker: Worker } | undefined)[] } } }).metrics.summaryReaders.slots.map((s) => s?.worker);

it('keeps its worker threads between computations, and replaces one that died', async () => {
  ledger.prepareSummaryCounts();
  const started = readerWorkers();
  expect(started).toHaveLength(SUMMARY_WORKERS.length);
  expect((await ledger.summaryCounts(now, 90, 7 * 86_400_000)).expiries[3]).toBe(1);
  expect(readerWorkers()).toEqual(started);
  await started[0]!.terminate();
  expect((await ledger.summaryCounts(now, 90, 7 * 86_400_000)).liveByGeneration).toEqual(new Map([[1, 1]]));
  expect(readerWorkers()[0]).not.toBe(started[0]);
});

it('a computation under way when its worker dies fails, and the next one answers', async () => {
  const pending = ledger.summaryCounts(now, 90, 7 * 86_400_000);
  await readerWorkers()[1]!.terminate();
  await expect(pending).rejects.toThrow(/summary counts reader exited/);
  expect((await ledger.summaryCounts(now, 90, 7 * 86_400_000)).expiries[3]).toBe(1);
});
