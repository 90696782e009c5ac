import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { workerUrl } from '../../core/worker-url.js';
import { CHECKPOINT_SLOTS, CheckpointSlot as S, FALLBACK_PACES, FIRST_PACE, commitsBetween } from './checkpoint-state.js';

/** What serve gives the ledger for checkpoints off its thread (SqliteLedgerOptions.checkpoints). */
export interface CheckpointThreadOptions {
  /** One line each time checkpoints come back to the serving thread (logged at warn). */
  readonly warn: (message: string) => void;
}

/** Where the serving connection's WAL checkpoints run now. */
export type CheckpointMode = 'thread' | 'serving-thread' | 'closed';

/**
 * WAL checkpoints of a serving connection on a thread of their own (checkpoint-worker.ts).
 *
 * SQLite's automatic checkpoint (every 1,000 WAL frames, ~every 18 issuances) runs inside a COMMIT
 * on the thread that commits and fsyncs the WAL and the database file there: 1.3 ms p50, 6 ms at
 * worst, of the event loop stalled for every request in flight. The serving connection turns it off
 * (wal_autocheckpoint = 0) and counts its commits in shared memory instead: one Atomics.add per
 * commit, and one Atomics.notify per ~pace commits, when the thread asked to be woken.
 *
 * Under sustained writes the thread's PASSIVE passes copy the WAL but seldom leave it complete
 * (commits land during every pass), and the writer restarts the WAL only from a complete one. When
 * it has grown past FALLBACK_PACES × 1,000 frames that way, the thread asks this one to finish:
 * after its next commit it runs a PASSIVE pass over the few frames the thread's last pass left
 * (no commit of this connection can land during it), and its next write restarts the WAL.
 *
 * Bounds, should the thread fail: it ends (an error, or it could not open the file) → the serving
 * connection takes SQLite's automatic checkpoint back (wal_autocheckpoint = 1000, as before this
 * class) for the rest of the process's life, and says so once. Not restarted: what ended it (a
 * file it cannot open, memory) would most likely end the next one too, and automatic checkpoints
 * cost latency, never data. It lives but falls FALLBACK_PACES paces behind (stuck on the disk,
 * starved of CPU) → the serving connection runs a PASSIVE checkpoint itself at that bound, and
 * says so once; if the thread is in a checkpoint at that moment, that one returns at once (busy).
 */
export class WalCheckpointer {
  private readonly state = new Int32Array(new SharedArrayBuffer(CHECKPOINT_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  /** The checkpoint thread (tests end it to see the fallback). */
  readonly thread: Worker;
  /** Resolves once the thread has opened its connection and run a first round (or ended). */
  readonly started: Promise<void>;
  private readonly exited: Promise<void>;
  #mode: CheckpointMode = 'thread';
  private warnedBehind = false;
  #fallbacks = 0;
  #serving = 0;
  #servingMs = 0;

  constructor(
    private readonly db: Database.Database,
    file: string,
    private readonly options: CheckpointThreadOptions,
  ) {
    Atomics.store(this.state, S.pace, FIRST_PACE);
    Atomics.store(this.state, S.wakeAt, FIRST_PACE);
    db.pragma('wal_autocheckpoint = 0');
    this.thread = new Worker(workerUrl(import.meta.url, 'checkpoint-worker'), { workerData: { file, state: this.state.buffer } });
    // Never what keeps a process alive: close() ends it; a process that exits without close() loses nothing.
    this.thread.unref();
    this.started = new Promise((resolve) => {
      this.thread.once('message', () => resolve());
      this.thread.once('exit', () => resolve());
    });
    let failure: Error | undefined;
    this.thread.on('error', (e) => (failure = e));
    this.exited = new Promise((resolve) =>
      this.thread.once('exit', (code) => {
        if (this.#mode === 'thread') this.takeBack(failure ? failure.message : `exit code ${code}`);
        resolve();
      }),
    );
  }

  /** Where checkpoints run now. */
  get mode(): CheckpointMode {
    return this.#mode;
  }

  /** Checkpoints the thread ran that copied frames, and the milliseconds they took in all. */
  get threadCheckpoints(): { readonly count: number; readonly ms: number } {
    return { count: Atomics.load(this.state, S.checkpoints), ms: Atomics.load(this.state, S.checkpointMicros) / 1000 };
  }

  /** PASSIVE checkpoints the serving thread ran because the thread fell behind. */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  /** Every checkpoint the serving thread ran (finishing a WAL the thread could not, and fallbacks), and their milliseconds. */
  get servingCheckpoints(): { readonly count: number; readonly ms: number } {
    return { count: this.#serving, ms: this.#servingMs };
  }

  /** After every commit of the serving connection. */
  committed(): void {
    if (this.#mode !== 'thread') return;
    const state = this.state;
    const commits = Atomics.add(state, S.commits, 1) + 1;
    if (commitsBetween(commits, Atomics.load(state, S.wakeAt)) >= 0) Atomics.notify(state, S.commits);
    if (commitsBetween(commits, Atomics.load(state, S.doneAt)) > FALLBACK_PACES * Atomics.load(state, S.pace)) {
      this.behind(commits);
    } else if (Atomics.load(state, S.finish) === 1) {
      Atomics.store(state, S.finish, 0);
      this.checkpointHere();
    }
  }

  /** Ends the thread (it closes its connection); waits for it, at most a few seconds. */
  async close(): Promise<void> {
    if (this.#mode === 'closed') return;
    const wasThread = this.#mode === 'thread';
    this.#mode = 'closed';
    if (!wasThread) return;
    Atomics.store(this.state, S.stop, 1);
    // A changed count: a thread just about to wait sees it and does not ('not-equal').
    Atomics.add(this.state, S.commits, 1);
    Atomics.notify(this.state, S.commits);
    // A thread in the middle of a checkpoint finishes it first; one stuck on the disk is not waited for.
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 5000);
    });
    await Promise.race([this.exited, stuck]);
    clearTimeout(timer);
    await this.thread.terminate();
  }

  private behind(commits: number): void {
    this.#fallbacks += 1;
    // Not while it starts (loading its module, opening the file, a first round): commits then are not its delay.
    if (!this.warnedBehind && Atomics.load(this.state, S.ready) === 1) {
      this.warnedBehind = true;
      this.options.warn(
        `the ledger's checkpoint thread is ${FALLBACK_PACES * Atomics.load(this.state, S.pace)} commits behind: the server checkpoints the WAL itself when it falls that far behind (said once)`,
      );
    }
    Atomics.store(this.state, S.doneAt, commits);
    this.checkpointHere();
  }

  private checkpointHere(): void {
    const started = performance.now();
    this.db.pragma('wal_checkpoint(PASSIVE)');
    this.#serving += 1;
    this.#servingMs += performance.now() - started;
  }

  private takeBack(reason: string): void {
    this.#mode = 'serving-thread';
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
    this.options.warn(`the ledger's checkpoint thread ended (${reason}): SQLite's automatic checkpoints run on the server's thread again until certmint restarts`);
  }
}
