import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NonceRoute } from '../ledger/sqlite/worker-nonces.js';

/**
 * How long a worker waits for another worker's answer about a nonce. Over: refused (badNonce),
 * the client retries with the fresh nonce the problem carries (RFC 8555 §6.5). An answer takes well
 * under a millisecond on an idle machine; this only bounds a dead, restarting or stuck owner.
 */
export const REDEEM_TIMEOUT_MS = 1_000;
/** A line longer than this is not one of ours (a nonce is ~60 characters): the connection is dropped. */
const MAX_LINE = 1024;

/**
 * The primary's half: a private directory (mode 0700, mkdtemp) where each worker listens for the
 * others' redemptions on `<slot>.sock`; removed when the primary exits. Under the temporary
 * directory, not dataDir, because a Unix socket's path has ~100 bytes at most. Its name carries the
 * primary's pid, so that a later primary can remove the directories of primaries that died without
 * their exit handler (kill -9 of the whole process group): only this user's, only a directory
 * itself (no symlink), only when no process has that pid.
 */
export function workerSocketDir(base: string = tmpdir()): string {
  removeDeadPrimariesDirs(base);
  const dir = mkdtempSync(path.join(base, `certmint-workers-${process.pid}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const PRIMARY_DIR = /^certmint-workers-(\d+)-[A-Za-z0-9]{6}$/;

function removeDeadPrimariesDirs(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(PRIMARY_DIR.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    const dir = path.join(base, name);
    try {
      const stat = lstatSync(dir);
      if (stat.isDirectory() && stat.uid === process.getuid?.()) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Gone meanwhile, or not ours to remove: left as it is.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: a process of another user has that pid.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const socketOf = (dir: string, slot: number) => path.join(dir, `${slot}.sock`);

interface Pending {
  readonly peer: Socket;
  readonly finish: (spent: boolean) => void;
}

/**
 * A worker's NonceRoute (WorkerNonceStore) over Unix sockets, worker to worker: the asker writes
 * `<id> <nonce>\n` on its connection to the owner's slot socket, the owner answers `<id> 1|0\n`. One
 * write and one read each way, no JSON, and the primary is not on the path (over node:cluster IPC it
 * relayed both: four messages and two wake-ups of the primary per redemption, issue 27). A slot with
 * no worker listening (dead, its replacement still starting) refuses the connection: refused at once.
 * A connection that closes fails what is pending on it; a late answer finds nothing pending: the
 * nonce may be spent at its owner and refused here, never accepted twice.
 */
export class WorkerNonceSockets implements NonceRoute {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly peers = new Map<number, Socket>();
  private server: Server | undefined;
  private readonly askers = new Set<Socket>();

  constructor(
    private readonly dir: string,
    private readonly slot: number,
    private readonly timeoutMs = REDEEM_TIMEOUT_MS,
  ) {}

  answerWith(redeem: (nonce: string) => boolean): void {
    const file = socketOf(this.dir, this.slot);
    // The predecessor in this slot (it died) left its socket file; its nonces died with it.
    rmSync(file, { force: true });
    this.server = createServer((socket) => {
      this.askers.add(socket);
      socket.once('close', () => this.askers.delete(socket));
      socket.on('error', () => socket.destroy());
      onLines(socket, (line) => {
        const space = line.indexOf(' ');
        socket.write(`${line.slice(0, space)} ${space > 0 && redeem(line.slice(space + 1)) ? 1 : 0}\n`);
      });
    });
    // exclusive: this worker binds the socket itself. Without it, node:cluster has the primary bind
    // it and hand each connection over, and a replacement would join the dead worker's handle.
    this.server.listen({ path: file, exclusive: true });
    // Never what keeps a worker alive: it exits when its HTTP server has drained.
    this.server.unref();
  }

  redeemAt(slot: number, nonce: string): Promise<boolean> {
    const peer = this.peer(slot);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), this.timeoutMs);
      const finish = (spent: boolean) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(spent);
      };
      this.pending.set(id, { peer, finish });
      peer.write(`${id} ${nonce}\n`);
    });
  }

  /** Stops answering and drops every connection (what a worker's exit does; tests). */
  close(): void {
    this.server?.close();
    for (const socket of [...this.askers, ...this.peers.values()]) socket.destroy();
  }

  private peer(slot: number): Socket {
    const known = this.peers.get(slot);
    if (known && !known.destroyed) return known;
    const peer = createConnection(socketOf(this.dir, slot));
    peer.unref();
    this.peers.set(slot, peer);
    onLines(peer, (line) => {
      const [id, spent] = line.split(' ');
      const p = this.pending.get(Number(id));
      if (p?.peer === peer) p.finish(spent === '1');
    });
    // Refused (nobody in the slot) or the owner gone: what waits on this connection is refused now.
    peer.on('error', () => peer.destroy());
    peer.on('close', () => {
      if (this.peers.get(slot) === peer) this.peers.delete(slot);
      for (const p of [...this.pending.values()]) if (p.peer === peer) p.finish(false);
    });
    return peer;
  }
}

function onLines(socket: Socket, each: (line: string) => void): void {
  let rest = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    if (rest.length > MAX_LINE) return void socket.destroy();
    for (const line of lines) each(line);
  });
}
