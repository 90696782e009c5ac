import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CertificateLedger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { startTestAcmeApp, type TestAcmeApp, type TestAcmeAppOptions } from './acme-app.js';
import { InjectAcmeClient, newAccountKey } from './jws-client.js';
import { afterAll } from 'vitest';
import { WorkerNonceStore } from '../../src/ledger/sqlite/worker-nonces.js';
import { InProcessNonceRoutes } from './in-process-nonce-routes.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from './postgres.js';

/**
 * Stops one ledger method before it runs, so a test can commit another decision while a use
 * case is between its checks and its commit. The ledger itself is the real one, untouched.
 */
export class LedgerGate {
  private held: { reached: () => void; released: Promise<void> } | undefined;

  /** The next call of the gated method waits; `reached` resolves when it has begun waiting. */
  hold(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { reached, released };
    return { reached: reachedP, release };
  }

  async pass(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    held.reached();
    await held.released;
  }
}

/** The ledger with `method` stopped at `gate` before it runs; every other member is the ledger's own. */
export function gatedLedger<K extends keyof CertificateLedger>(ledger: CertificateLedger, method: K, gate: LedgerGate): CertificateLedger {
  return new Proxy(ledger, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (prop !== method) return bound;
      return async (...args: unknown[]) => {
        await gate.pass();
        return bound(...args);
      };
    },
  });
}

/**
 * `sqlite-workers`: the two connections are two worker processes of server.workers (issue 27):
 * each a holder in ledger_holders, exactly as two workers open the file, with WorkerNonceStores in
 * slots 0 and 1 under the ledger's secret, joined in this process where `certmint serve` joins them
 * over IPC (each spends its own nonces and asks the other about the other's).
 */
export type RaceBackend = { readonly name: 'sqlite' } | { readonly name: 'sqlite-workers' } | { readonly name: 'postgres'; readonly cluster: () => PostgresCluster };

/**
 * Two ACME apps on one ledger through two connections (SQLite: two connections to one file;
 * PostgreSQL: two pools on one database), as two server processes, or a server and the admin
 * CLI, share one. `a` serves from the ledger with completeFinalize gated by `gate`; both share
 * a's data dir (its CA).
 */
export interface RaceApps {
  readonly a: TestAcmeApp;
  readonly b: TestAcmeApp;
  readonly gate: LedgerGate;
  /** PostgreSQL: the database both pools use, for a session of the test's own. */
  readonly databaseUrl: string | undefined;
  /** A registered account on `a`, and the same account speaking to `b` (its own nonces). */
  account(): Promise<{ onA: InjectAcmeClient; onB: InjectAcmeClient }>;
  close(): Promise<void>;
}

export async function startRaceApps(backend: RaceBackend, options: TestAcmeAppOptions = {}): Promise<RaceApps> {
  const gate = new LedgerGate();
  const url = backend.name === 'postgres' ? await backend.cluster().createDatabase() : undefined;
  // One data dir (one CA) for both apps, removed once both are closed.
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-race-'));
  let opened = 0;
  const routes = new InProcessNonceRoutes();
  const asWorker = (now: () => number) => {
    const slot = opened++;
    return { workers: { first: slot === 0, nonces: (secret: Buffer) => new WorkerNonceStore({ secret, slot, route: routes.route(slot), now }) } };
  };
  const open = async (now: () => number): Promise<CertificateLedger> =>
    url === undefined
      ? new SqliteLedger({
          file: path.join(dir, 'ledger.sqlite3'),
          now,
          ...(backend.name === 'sqlite-workers' ? asWorker(now) : {}),
        })
      : (await openLedger({ sqliteFile: '', postgres: { url, passwordFile: undefined, poolSize: 4 }, now })).ledger;
  const a = await startTestAcmeApp({ ...options, dir, ledger: async (now) => gatedLedger(await open(now), 'completeFinalize', gate) });
  const b = await startTestAcmeApp({ ...options, dir, ledger: open });
  return {
    a,
    b,
    gate,
    databaseUrl: url,
    async account() {
      const onA = new InjectAcmeClient(a.app, a.baseUrl, await newAccountKey());
      const res = await onA.register();
      if (res.statusCode !== 201) throw new Error(`newAccount: ${res.statusCode} ${res.body}`);
      const onB = new InjectAcmeClient(b.app, b.baseUrl, onA.key);
      onB.accountUrl = onA.accountUrl;
      return { onA, onB };
    },
    async close() {
      try {
        await b.close();
        await a.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The other request starts after `turns` turns of the event loop: rounds spread it over the first one's steps. */
export async function after<T>(turns: number, request: () => Promise<T>): Promise<T> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  return request();
}

/** The backends a race suite runs on: SQLite, and PostgreSQL where installed (required under CERTMINT_REQUIRE_CLIENTS=1). */
export interface RaceBackends {
  readonly pgAvailable: boolean;
  readonly list: readonly { readonly backend: RaceBackend; readonly skip: boolean }[];
  /** The PostgreSQL backend, on this test file's cluster (startCluster first). */
  readonly postgres: RaceBackend;
  /** Starts this test file's one throw-away cluster, once; it is stopped after the file. */
  startCluster(): Promise<void>;
}

/** Call at a test file's top level: registers the cluster's stop after the file. */
export function raceBackends(): RaceBackends {
  const pgAvailable = postgresAvailable();
  let cluster: PostgresCluster | undefined;
  afterAll(async () => cluster?.stop(), 60_000);
  const postgres: RaceBackend = { name: 'postgres', cluster: () => cluster! };
  return {
    pgAvailable,
    postgres,
    list: [
      { backend: { name: 'sqlite' }, skip: false },
      { backend: { name: 'sqlite-workers' }, skip: false },
      { backend: postgres, skip: !pgAvailable },
    ],
    startCluster: async () => {
      cluster ??= await startPostgres();
    },
  };
}
