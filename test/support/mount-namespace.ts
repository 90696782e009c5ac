import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * The disk under a test server's data dir, in a mount namespace of its own (unshare, as root), so
 * a test can fill it, break it and repair it without touching the machine's file systems.
 */
export type DataDisk =
  /** A tmpfs of `size` (e.g. "3m"): writes fail with ENOSPC at write() once it is full. */
  | { readonly kind: 'tmpfs'; readonly size: string }
  /**
   * ext4 of `size` in an image file on a loop device, the image on a tmpfs of `backing`: a
   * thin-provisioned volume (ext4 sees `size`, the store behind it holds `backing`), so filling the
   * store makes writeback fail under ext4, where fdatasync reports it. With `journal` (the default)
   * it is mounted errors=remount-ro, as distributions do: the first I/O error makes it read-only
   * until it is unmounted. Without, errors=continue: it stays writable and the fault can clear.
   */
  | { readonly kind: 'ext4'; readonly size: string; readonly backing: string; readonly journal?: boolean };

export interface ShellResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface MountNamespace {
  /** A process that holds the namespace open for the life of the test server, across restarts. */
  readonly pid: number;
  /** `p` (a path inside the namespace) as this process reaches it: /proc/<pid>/root<p>. */
  view(p: string): string;
  /** `sh -c script` inside the namespace as root; $DATA is the data dir's mount point, $BACKING the ext4 image's store. */
  sh(script: string): Promise<ShellResult>;
  /** `command` (no shell) inside the namespace as root. */
  exec(command: readonly string[]): Promise<ShellResult>;
  /** Unmounts the data dir's disk (which drops its page cache) and, for ext4, checks it with e2fsck -fy. */
  unmountData(): Promise<void>;
  /** Mounts the data dir's disk again, with the options it had at the start. */
  mountData(): Promise<void>;
  close(): Promise<void>;
}

const READY_MARKER = 'certmint-test-namespace-ready';

/** Mounts `disk` at `dataDir` in a new mount namespace; `workDir` holds the ext4 image's store. */
export async function startMountNamespace(disk: DataDisk, dataDir: string, workDir: string): Promise<MountNamespace> {
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    DATA: dataDir,
    BACKING: path.join(workDir, 'backing'),
    IMAGE: path.join(workDir, 'backing', 'disk.img'),
  };
  const mount =
    disk.kind === 'tmpfs'
      ? `mount -t tmpfs -o "size=${disk.size},mode=0700" tmpfs "$DATA"`
      : `mount -o "loop,${disk.journal === false ? 'errors=continue' : 'errors=remount-ro'}" "$IMAGE" "$DATA" && chmod 0700 "$DATA"`;
  const create =
    disk.kind === 'tmpfs'
      ? 'mkdir -p "$DATA"'
      : `mkdir -p "$DATA" "$BACKING" && mount -t tmpfs -o "size=${disk.backing}" tmpfs "$BACKING" && truncate -s ${disk.size} "$IMAGE" && ` +
        `mkfs.ext4 -q -F ${disk.journal === false ? '-O ^has_journal ' : ''}"$IMAGE"`;
  const { holder, close } = await holdNamespace(`${create} && ${mount}`, env);

  const exec = (command: readonly string[]) =>
    new Promise<ShellResult>((resolve) => {
      execFile('nsenter', ['-t', String(holder.pid), '-m', '--', ...command], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const sh = (script: string) => exec(['sh', '-c', script]);
  const must = async (script: string, what: string): Promise<void> => {
    const r = await sh(script);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  };
  return {
    pid: holder.pid!,
    view: (p) => `/proc/${holder.pid}/root${p}`,
    sh,
    exec,
    // e2fsck exits 1 when it corrected errors, which an I/O error under ext4 leaves behind.
    unmountData: () => must(`umount "$DATA"${disk.kind === 'ext4' ? ' && { e2fsck -fy "$IMAGE" >/dev/null; [ $? -le 1 ]; }' : ''}`, 'unmounting the data disk'),
    mountData: () => must(mount, 'mounting the data disk'),
    close,
  };
}

/**
 * A process holding a new mount namespace (unshare, as root) once `setup` has run in it; killed
 * by close(), or when the test process exits.
 */
async function holdNamespace(setup: string, env: Record<string, string>): Promise<{ holder: ChildProcess; close: () => Promise<void> }> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${setup ? `${setup} && ` : ''}echo ${READY_MARKER} && exec sleep infinity`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => {
    holder.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  await holderReady(holder);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      if (holder.exitCode === null && holder.signalCode === null) {
        const exited = new Promise((resolve) => holder.once('exit', resolve));
        holder.kill('SIGKILL');
        await exited;
      }
      process.removeListener('exit', killOnExit);
    })());
  return { holder, close };
}

function holderReady(holder: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    holder.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    holder.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(READY_MARKER)) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`the test's mount namespace could not be set up (exit ${code}): ${err}`)));
    holder.once('error', reject);
  });
}

/** A mount namespace where files of the test's stand over system files (/etc/resolv.conf, /etc/hosts). */
export interface FilesNamespace {
  readonly pid: number;
  close(): Promise<void>;
}

/**
 * Bind-mounts each `source` over its `target` in a new mount namespace (unshare, as root): a
 * process entered into it (nsenter) reads the test's resolv.conf or hosts file where the system's
 * are, and nothing outside it sees a change.
 */
export async function startFilesNamespace(binds: readonly { readonly source: string; readonly target: string }[]): Promise<FilesNamespace> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  const mounts = binds.map((b, i) => {
    env[`SOURCE_${i}`] = b.source;
    env[`TARGET_${i}`] = b.target;
    return `mount --bind "$SOURCE_${i}" "$TARGET_${i}"`;
  });
  const { holder, close } = await holdNamespace(mounts.join(' && '), env);
  return { pid: holder.pid!, close };
}
