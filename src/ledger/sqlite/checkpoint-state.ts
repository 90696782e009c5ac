/**
 * The memory the serving thread and its checkpoint thread share (an Int32Array over a
 * SharedArrayBuffer; Atomics only). Commit counts wrap at 2^31: compare them by difference.
 */
export const CheckpointSlot = {
  /** Commits the serving connection made (the ledger adds 1 after each). */
  commits: 0,
  /** The commit count at which the checkpoint thread wants to be woken (notify on `commits`). */
  wakeAt: 1,
  /** The commit count when the thread's last round began (the serving thread's fallback counts from it). */
  doneAt: 2,
  /** Commits per checkpoint, paced from the frames each checkpoint found (~PACE_FRAMES frames). */
  pace: 3,
  /** 1: the checkpoint thread is to close its connection and end. */
  stop: 4,
  /** Checkpoints the thread ran (for tests and benchmarks). */
  checkpoints: 5,
  /** Microseconds those checkpoints took, in total (wraps after ~36 minutes of checkpointing). */
  checkpointMicros: 6,
  /** 1: the WAL grew past FALLBACK_PACES × PACE_FRAMES with commits landing during every pass: the serving thread finishes it. */
  finish: 7,
  /** 1: the thread has opened its connection and finished a first round. */
  ready: 8,
} as const;
export const CHECKPOINT_SLOTS = 9;

/** Frames between checkpoints: SQLite's own wal_autocheckpoint default (~4 MB of WAL at 4 KB pages). */
export const PACE_FRAMES = 1000;
/** Commits per checkpoint until the first checkpoint has measured the frames of a commit (~55 per issuance). */
export const FIRST_PACE = 16;
/** A checkpoint thread this many paces behind has stopped keeping up: the serving thread checkpoints itself. */
export const FALLBACK_PACES = 4;
/** More passes right after one that commits kept from completing (each copies only what came in during the one before). */
export const CATCH_UP_PASSES = 2;
/** Without reaching the pace, the thread checkpoints after this long without a wake-up (idle; other processes' commits). */
export const IDLE_CHECKPOINT_MS = 1000;

/** a - b for commit counts that wrap at 2^31. */
export function commitsBetween(a: number, b: number): number {
  return (a - b) | 0;
}
