import { performance } from 'node:perf_hooks';
import cluster, { type Worker } from 'node:cluster';
import { rmSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { startServer } from './serve.js';
import { applyServeV8Flags } from './v8-flags.js';
import { WorkerNonceStore } from '../ledger/sqlite/worker-nonces.js';
import { answerMetricScrapes, WorkerMetricsChannel } from './worker-metrics.js';
import { WorkerNonceSockets, workerSocketDir } from './worker-nonces.js';

/** The first worker of a start is told so by this variable (it alone may forget the last start's holders). */
const FIRST_WORKER_ENV = 'CERTMINT_WORKER_FIRST';
/** A worker's slot (0 … workers-1): a replacement takes the slot of the worker that died. Its nonces name it. */
const WORKER_SLOT_ENV = 'CERTMINT_WORKER_SLOT';
/** Where the workers listen for each other's nonce redemptions (worker-nonces.ts), made by the primary. */
const WORKER_SOCKETS_ENV = 'CERTMINT_WORKER_SOCKETS';
/** A worker tells the primary it listens with this message. */
const LISTENING = 'certmint:listening';
/** A worker that crashes again within this of its start doubles the wait before the next restart. */
const RESTART_BACKOFF_MIN_MS = 100;
const RESTART_BACKOFF_MAX_MS = 10_000;
/** A worker that ran this long before it died was healthy: the next restart waits the least again. */
const HEALTHY_RUN_MS = 10_000;

/**
 * `certmint serve`: one process (server.workers 1, exactly as before the key existed), or a primary
 * that forks server.workers worker processes. Each worker is the whole server (startServer) on the
 * shared listeners (node:cluster hands connections round-robin) and the one ledger; the primary
 * holds no ledger and no key, only the workers.
 */
export async function serve(config: Config, clock: Clock): Promise<void> {
  if (config.server.workers <= 1) {
    const server = await startServer(config, clock);
    applyServeV8Flags();
    onStopSignal(() => server.close());
    return;
  }
  if (cluster.isWorker) return serveAsWorker(config, clock);
  return new WorkerPrimary(config.server.workers).start();
}

async function serveAsWorker(config: Config, clock: Clock): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? 0);
  const socketDir = process.env[WORKER_SOCKETS_ENV] ?? '';
  const route = new WorkerNonceSockets(socketDir, slot);
  const server = await startServer(config, clock, {
    id,
    first: process.env[FIRST_WORKER_ENV] === '1',
    metrics: (registry) => new WorkerMetricsChannel(registry),
    nonces: (secret) => new WorkerNonceStore({ secret, slot, route, now: () => clock.now().getTime() }),
  });
  applyServeV8Flags();
  process.send?.({ type: LISTENING });
  // SIGTERM from the primary (or the terminal's SIGINT to the group); a primary gone (its IPC
  // channel closed: it was killed) leaves nobody to restart or stop this worker: drain and exit.
  const stop = onStopSignal(() => server.close());
  // node:cluster's own listener (lib/internal/cluster/child.js) exits a worker the moment its
  // primary's channel closes, cutting the requests in flight; this worker drains first instead.
  process.removeAllListeners('disconnect');
  process.once('disconnect', stop);
  // Exiting without a primary (it was killed): nobody else removes the nonce sockets' directory,
  // which the primary does at its own exit.
  process.once('exit', () => {
    if (!process.connected && socketDir) rmSync(socketDir, { recursive: true, force: true });
  });
}

/** SIGTERM/SIGINT: drain (in-flight requests finish, work settles), then exit 0; 1 if closing failed. */
function onStopSignal(close: () => Promise<void>): () => void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return stop;
}

/**
 * The primary of server.workers > 1. The first worker starts alone: it migrates the ledger,
 * creates the CA on a first start and the server's TLS certificate, and binds the ports, so those
 * happen once, and a start that cannot succeed (a port taken, a bad CA file) fails once with that
 * worker's error and exit code, not N times forever. Then the others start. A worker that exits
 * unexpectedly is replaced (its interrupted work is recovered by the replacement: ledger_holders),
 * after a wait that doubles while workers keep crashing young. SIGTERM/SIGINT go to every worker;
 * the primary exits once all have drained.
 */
class WorkerPrimary {
  private readonly log: Logger = pino({ level: process.env.CERTMINT_LOG_LEVEL ?? 'info' });
  private readonly startedAt = new Map<Worker, number>();
  private readonly listening = new Set<Worker>();
  private readonly slots = new Map<Worker, number>();
  private stopping = false;
  /** Until the first worker listens: its exit ends the start (start()), it is not restarted. */
  private starting = true;
  private restartDelayMs = RESTART_BACKOFF_MIN_MS;
  private failed = false;
  private readonly socketDir = workerSocketDir();

  constructor(private readonly count: number) {}

  async start(): Promise<void> {
    answerMetricScrapes(cluster, () => [...this.listening]);
    process.once('SIGINT', () => this.stop('SIGINT'));
    process.once('SIGTERM', () => this.stop('SIGTERM'));
    const first = this.fork(0);
    const started = await new Promise<boolean>((resolve) => {
      first.on('message', (m: unknown) => {
        if (isListening(m)) resolve(true);
      });
      first.once('exit', () => resolve(false));
    });
    if (!started) {
      // Its error is on stderr already (main.ts), once; its exit code says what kind.
      process.exit(first.process.exitCode || 1);
    }
    this.starting = false;
    for (let slot = 1; slot < this.count; slot++) this.fork(slot);
    this.log.info({ workers: this.count }, `serving with ${this.count} worker processes (server.workers)`);
  }

  /** Slot 0 of a start is the first worker (it starts alone); a replacement takes its predecessor's slot. */
  private fork(slot: number): Worker {
    const first = this.starting && slot === 0;
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot), [WORKER_SOCKETS_ENV]: this.socketDir, ...(first ? { [FIRST_WORKER_ENV]: '1' } : {}) });
    this.startedAt.set(worker, performance.now());
    this.slots.set(worker, slot);
    worker.on('message', (m: unknown) => {
      if (isListening(m)) this.listening.add(worker);
    });
    worker.once('exit', (code, signal) => this.exited(worker, code, signal));
    return worker;
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const ran = performance.now() - (this.startedAt.get(worker) ?? 0);
    const wasListening = this.listening.delete(worker);
    const slot = this.slots.get(worker) ?? 0;
    this.slots.delete(worker);
    this.startedAt.delete(worker);
    if (this.starting && !this.stopping) return;
    if (this.stopping) {
      if (code !== 0) this.failed = true;
      if (this.startedAt.size === 0) process.exit(this.failed ? 1 : 0);
      return;
    }
    // A worker that ran well waits the least; one that died young (crashing in a loop) twice as long as the last.
    const { delay, next } = restartDelay(this.restartDelayMs, ran >= HEALTHY_RUN_MS && wasListening);
    this.restartDelayMs = next;
    this.log.error(
      { worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: delay },
      `worker ${worker.id} (pid ${worker.process.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); starting another in ${delay} ms`,
    );
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive to replace them.
    setTimeout(() => {
      if (!this.stopping) this.fork(slot);
    }, delay);
  }

  private stop(signal: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ signal }, `${signal}: draining ${this.startedAt.size} worker processes`);
    if (this.startedAt.size === 0) process.exit(0);
    for (const worker of this.startedAt.keys()) worker.process.kill('SIGTERM');
  }
}

/**
 * The wait before replacing a worker that died, and the one after it: the least after a worker
 * that served for a while, doubling (to 10 s at most) while workers keep dying young.
 */
export function restartDelay(pending: number, diedHealthy: boolean): { delay: number; next: number } {
  const delay = diedHealthy ? RESTART_BACKOFF_MIN_MS : pending;
  return { delay, next: Math.min(delay * 2, RESTART_BACKOFF_MAX_MS) };
}

const isListening = (m: unknown): boolean => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === LISTENING;
