// Worker thread: the WAL checkpoints of a serving connection (WalCheckpointer), on a connection of
// its own, so that copying the WAL into the database file and the two fsyncs around it never hold
// the server's event loop. PASSIVE: never waits for, nor blocks, the server's readers and writer;
// the writer restarts the WAL by itself once every frame of it is in the database file and no reader
// still uses it. Paced like SQLite's own wal_autocheckpoint (~PACE_FRAMES frames), from the frame
// counts each checkpoint returns and the commits the server counts in shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, openSync, readSync } from 'node:fs';
import { CATCH_UP_PASSES, CheckpointSlot as S, FALLBACK_PACES, FIRST_PACE, IDLE_CHECKPOINT_MS, PACE_FRAMES, commitsBetween } from './checkpoint-state.js';

const { file, state: buffer } = workerData as { file: string; state: SharedArrayBuffer };
const state = new Int32Array(buffer);
const db = new Database(file, { fileMustExist: true });
// Durability (wal-durability.ts): a checkpoint under NORMAL (or FULL) fsyncs the WAL before it
// copies frames and the database file before it marks them copied, so the writer never reuses WAL
// space whose frames are not on disk in the database file. OFF would break that: set it, whatever
// this SQLite's default.
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
// The database file, for flushing what an incomplete pass wrote (checkpointRound).
const dbFd = openSync(file, 'r');

interface Pass {
  /** Frames in the WAL (-1: busy, another connection is checkpointing and does this work). */
  readonly log: number;
  /** Of those, frames in the database file now. */
  readonly checkpointed: number;
}

let pace = FIRST_PACE;
let framesPerCommit = 0;
let lastAt = Atomics.load(state, S.commits);
let last: Pass = { log: 0, checkpointed: 0 };
let lastRestarts = walRestarts();

/** The WAL header's checkpoint sequence number: the writer adds 1 each time it restarts the WAL from its start. */
function walRestarts(): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`${file}-wal`, 'r');
    const header = Buffer.alloc(16);
    return readSync(fd, header, 0, 16, 0) === 16 ? header.readUInt32BE(12) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** One PASSIVE pass; `fresh`: it found frames no pass had seen before (not an idle wake-up's). */
function pass(): Pass & { readonly fresh: boolean } {
  const started = performance.now();
  const result = checkpoint.get() as Pass;
  const fresh = result.log > 0 && !(result.log === last.log && result.checkpointed === last.checkpointed);
  if (fresh) {
    Atomics.add(state, S.checkpoints, 1);
    Atomics.add(state, S.checkpointMicros, Math.round((performance.now() - started) * 1000));
  }
  last = result;
  return { ...result, fresh };
}

/**
 * One PASSIVE pass, and up to CATCH_UP_PASSES more while this process committed during the last
 * one: the writer restarts the WAL only when it begins a transaction with every frame in the
 * database file, and a short pass over the few frames left often finds the writer idle. (A pass
 * that copied every frame it saw is no proof: the writer may have committed meanwhile.) If the WAL
 * still grows past FALLBACK_PACES × PACE_FRAMES, the serving thread is asked to finish it
 * (S.finish): its own PASSIVE pass copies the few frames left with no commit of its connection in
 * between.
 */
function checkpointRound(): void {
  const at = Atomics.load(state, S.commits);
  // Begun: a long round (a slow disk) is not a thread that fell behind; one stuck in it is, FALLBACK_PACES paces on.
  Atomics.store(state, S.doneAt, at);
  const before = last;
  let result = pass();
  let copied = result.fresh;
  for (let i = 0, from = at; i < CATCH_UP_PASSES && result.log > 0 && Atomics.load(state, S.commits) !== from; i += 1) {
    from = Atomics.load(state, S.commits);
    result = pass();
    copied ||= result.fresh;
  }
  // Frames and commits since the last round (the WAL's frames are all new if the writer restarted it meanwhile).
  const now = Atomics.load(state, S.commits);
  const restarts = walRestarts();
  const frames = restarts !== lastRestarts ? result.log : result.log - before.log;
  const commits = commitsBetween(now, lastAt);
  lastRestarts = restarts;
  lastAt = now;
  if (commits > 0 && frames > 0) {
    const measured = frames / commits;
    framesPerCommit = framesPerCommit === 0 ? measured : (framesPerCommit + measured) / 2;
    pace = Math.max(1, Math.min(PACE_FRAMES, Math.floor(PACE_FRAMES / framesPerCommit)));
  }
  // A pass that did not reach the WAL's end (the writer committed meanwhile) leaves the pages it wrote
  // unsynced: SQLite syncs the database file only in a pass that copies every frame, which would then
  // be the serving thread's finishing pass, syncing all of them. Here they are flushed on this thread.
  if (copied) fdatasyncSync(dbFd);
  // A WAL this long has not been restarted for FALLBACK_PACES paces: no pass found it complete at a moment the writer began.
  if (result.log >= FALLBACK_PACES * PACE_FRAMES) Atomics.store(state, S.finish, 1);
  Atomics.store(state, S.pace, pace);
  Atomics.store(state, S.doneAt, at);
  Atomics.store(state, S.wakeAt, (at + pace) | 0);
}

try {
  // Ready after a first round (what the server wrote while this thread started, migrations): the
  // serving thread's fallbacks until then are its start, not a thread that falls behind.
  checkpointRound();
  Atomics.store(state, S.ready, 1);
  parentPort!.postMessage('ready');
  while (Atomics.load(state, S.stop) === 0) {
    const commits = Atomics.load(state, S.commits);
    if (commitsBetween(commits, Atomics.load(state, S.wakeAt)) >= 0) {
      checkpointRound();
      continue;
    }
    // Woken by the server's commit that reaches wakeAt (or by close); 'not-equal': a commit came in meanwhile, look again.
    if (Atomics.wait(state, S.commits, commits, IDLE_CHECKPOINT_MS) === 'timed-out') checkpointRound();
  }
} finally {
  closeSync(dbFd);
  db.close();
}
