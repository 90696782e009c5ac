import { hostname } from 'node:os';
import type Database from 'better-sqlite3';

/** How often a worker records that it is alive. */
export const HOLDER_HEARTBEAT_MS = 5_000;
/**
 * A holder silent this long is gone, whatever its pid says (a pid reused by another process, a
 * host that cannot see it). Far above the heartbeat: a worker whose event loop waited on a busy
 * ledger (busy_timeout 5 s) for a while is still alive.
 */
export const HOLDER_LEASE_MS = 30_000;

interface HolderRow {
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
  readonly heartbeat_at: number;
}

/**
 * The worker processes serving one SQLite file (server.workers > 1), so that a worker never takes
 * over another live worker's finalize or validation, and a dead one's is taken over at once: its
 * row stays (kill -9 runs no cleanup), but its pid no longer exists on this host.
 */
export class SqliteHolders {
  private readonly s;
  private readonly host = hostname();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly holder: string,
    private readonly now: () => number,
  ) {
    this.s = {
      forgetAll: db.prepare('DELETE FROM ledger_holders'),
      enter: db.prepare(`INSERT INTO ledger_holders (holder, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (holder) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`),
      leave: db.prepare('DELETE FROM ledger_holders WHERE holder = ?'),
      all: db.prepare('SELECT holder, host, pid, heartbeat_at FROM ledger_holders'),
    };
  }

  /**
   * Records this connection's process and keeps its heartbeat. `first`: no other process serves the
   * file yet (the first worker of a start), so rows a previous start left are forgotten and their
   * work is interrupted at once, even if the pids they name were reused.
   */
  enter(first: boolean): void {
    this.db.transaction(() => {
      if (first) this.s.forgetAll.run();
      this.beat();
    }).immediate();
    this.timer = setInterval(() => {
      try {
        this.beat();
      } catch {
        // A busy ledger: the next beat; HOLDER_LEASE_MS leaves room for several missed ones.
      }
    }, HOLDER_HEARTBEAT_MS);
    this.timer.unref();
  }

  /** The holders alive now, this one included: their work in flight is theirs. */
  live(): string[] {
    const now = this.now();
    const rows = this.s.all.all() as HolderRow[];
    return rows.filter((r) => r.holder === this.holder || (r.heartbeat_at > now - HOLDER_LEASE_MS && (r.host !== this.host || processExists(r.pid)))).map((r) => r.holder);
  }

  /** A clean stop: nothing of this holder's is in flight any more. */
  leave(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.db.open) this.s.leave.run(this.holder);
  }

  private beat(): void {
    const now = this.now();
    this.s.enter.run(this.holder, this.host, process.pid, now, now);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
