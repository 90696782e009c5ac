import { open, type FileHandle } from 'node:fs/promises';

/**
 * Group commit for the SQLite ledger without holding the event loop.
 *
 * better-sqlite3 is synchronous: with `synchronous = FULL` every COMMIT fsyncs the WAL on the
 * JavaScript thread, and under load the whole server waits on the disk once per write. Instead
 * the ledger commits with `synchronous = NORMAL` (SQLite has written the WAL frames with write()
 * when COMMIT returns, but not synced them) and then awaits `afterCommit()`, which fdatasyncs the
 * WAL file on libuv's thread pool. A sync covers every frame written before it started, so
 * concurrent writers share one sync: the first waits for the disk, the others ride along.
 * The caller answers only after afterCommit resolves, so a response still never reports a change
 * that a power loss could take back: the durability of `synchronous = FULL`, without its cost to
 * every other request. (A checkpoint under NORMAL syncs the WAL before copying it and the database
 * after, so frames moved out of the WAL are on disk too.)
 */
export class WalDurability {
  private handle: Promise<FileHandle> | undefined;
  private committed = 0;
  private synced = 0;
  private inFlight: Promise<void> | undefined;
  #syncs = 0;

  constructor(private readonly walFile: string) {}

  /** How many fdatasyncs ran: fewer than commits when writers shared them. */
  get syncs(): number {
    return this.#syncs;
  }

  /** Resolves when every write committed before this call is on disk. */
  async afterCommit(): Promise<void> {
    const mine = ++this.committed;
    while (this.synced < mine) {
      this.inFlight ??= this.syncUpTo(this.committed);
      await this.inFlight;
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await this.inFlight?.catch(() => undefined);
    if (handle) await (await handle).close();
  }

  private async syncUpTo(upTo: number): Promise<void> {
    try {
      // Opened on first use: SQLite creates the WAL file with the first write. It keeps its inode
      // for as long as a connection is open (a reset rewrites it from the start, in place).
      this.handle ??= open(this.walFile, 'r+');
      await (await this.handle).datasync();
      this.#syncs += 1;
      this.synced = Math.max(this.synced, upTo);
    } catch (e) {
      this.handle = undefined;
      throw e;
    } finally {
      this.inFlight = undefined;
    }
  }
}
