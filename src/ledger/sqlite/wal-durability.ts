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
 *
 * A failed fdatasync is final. Linux reports a writeback error once, marks the pages it could not
 * write clean, and the next fdatasync (on this descriptor or a new one) succeeds without writing
 * them: the frames of the failed commits are then missing from the WAL on disk, and after a power
 * loss SQLite's WAL recovery stops at that gap and drops every later commit too. So after one
 * failed sync no commit can be reported durable again (every afterCommit rejects, which also fails
 * /ready) until certmint restarts and reads back what the disk really holds. A failure to open the
 * WAL file writes nothing and loses nothing: the next commit tries again.
 */
export class WalDurability {
  private handle: Promise<FileHandle> | undefined;
  private committed = 0;
  private synced = 0;
  private inFlight: Promise<void> | undefined;
  private failure: WalSyncError | undefined;
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
      if (this.failure) throw this.failure;
      this.inFlight ??= this.syncUpTo(this.committed);
      await this.inFlight;
    }
  }

  async close(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    const handle = await this.handle?.catch(() => undefined);
    this.handle = undefined;
    await handle?.close();
  }

  private async syncUpTo(upTo: number): Promise<void> {
    try {
      // Opened on first use: SQLite creates the WAL file with the first write. It keeps its inode
      // for as long as a connection is open (a reset rewrites it from the start, in place).
      let handle: FileHandle;
      try {
        this.handle ??= open(this.walFile, 'r+');
        handle = await this.handle;
      } catch (e) {
        this.handle = undefined;
        throw e;
      }
      try {
        await handle.datasync();
      } catch (e) {
        this.failure = new WalSyncError(e);
        this.handle = undefined;
        await handle.close().catch(() => undefined);
        throw this.failure;
      }
      this.#syncs += 1;
      this.synced = Math.max(this.synced, upTo);
    } finally {
      this.inFlight = undefined;
    }
  }
}

/** The ledger's WAL could not be flushed to disk: nothing committed since the last flush is known to be durable. */
export class WalSyncError extends Error {
  override name = 'WalSyncError';
  constructor(cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    super(
      `the ledger's write-ahead log could not be flushed to disk (${code}): writes since the last flush may not survive a power loss, ` +
        'so the ledger takes no more writes; repair the storage and restart certmint',
      { cause },
    );
  }
}
