// A throw-away PostgreSQL cluster for the benchmark, from Debian's `postgresql` package: initdb
// into a temporary directory, the server on a free 127.0.0.1 port with password (SCRAM) auth,
// stopped and removed at cleanup. test/support/postgres.ts does the same for the tests, with one
// difference that matters here: fsync and synchronous_commit stay on. The bench measures durable
// commits, as certmint's SQLite ledger fdatasyncs its WAL before finalize answers.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, onCleanup, ticksToMs } from './processes.mjs';

const run = promisify(execFile);

/** initdb, pg_ctl and postgres: Debian keeps them in /usr/lib/postgresql/<version>/bin; the newest wins. */
export function postgresBinDir() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(dir, b))));
}

/** initdb and postgres refuse root: as root the server runs as the `postgres` user. */
function serverUser() {
  if (process.getuid() !== 0) return { uid: process.getuid(), gid: process.getgid(), prefix: [] };
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), prefix: ['runuser', '-u', 'postgres', '--'] };
}

/** Why the PostgreSQL setups cannot run here, or null when they can. */
export function postgresUnavailable() {
  if (postgresBinDir() === undefined) return 'PostgreSQL is not installed (apt-get install postgresql)';
  if (serverUser() === undefined) return 'running as root, but there is no "postgres" user to run the server as';
  return null;
}

/**
 * Starts a cluster. Returns its version, `createDatabase(name)` → URL, `cpuMs()` (the CPU of all
 * its processes so far) and `stop()`. `keep`: a directory where the cluster is made once and kept
 * (stop() leaves it there; the next start reuses it and `reused` says so), so a large generated
 * ledger serves several runs.
 */
export async function startPostgres({ keep } = {}) {
  const missing = postgresUnavailable();
  if (missing) throw new Error(missing);
  const bin = postgresBinDir();
  const user = serverUser();
  const as = (command, args) => {
    const [exe, ...rest] = [...user.prefix, path.join(bin, command), ...args];
    return run(exe, rest, { timeout: 60_000 });
  };
  const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'certmint-bench-pg-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'socket');
  const superuser = 'certmint_bench';
  const secret = path.join(dir, 'password');
  const reused = keep !== undefined && existsSync(path.join(data, 'PG_VERSION')) && existsSync(secret);
  const password = reused ? readFileSync(secret, 'utf8').trim() : randomBytes(12).toString('hex');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      // -m immediate: the data is thrown away anyway (a kept cluster is stopped cleanly: -m fast).
      if (existsSync(path.join(data, 'postmaster.pid'))) await as('pg_ctl', ['-D', data, '-m', keep ? 'fast' : 'immediate', '-w', '-t', '30', 'stop']);
    } catch {
      const pid = postmasterPid(data);
      try {
        if (pid) process.kill(pid, 'SIGQUIT'); // PostgreSQL's immediate shutdown
      } catch {
        // not running
      }
    }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  onCleanup(stop);

  if (!reused) {
    mkdirSync(dir, { recursive: true });
    rmSync(data, { recursive: true, force: true }); // a kept cluster that never finished its first start
    chownSync(dir, user.uid, user.gid);
    mkdirSync(socket, { recursive: true, mode: 0o700 });
    chownSync(socket, user.uid, user.gid);
    const pwfile = path.join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chownSync(pwfile, user.uid, user.gid);
    // TCP on 127.0.0.1 with SCRAM passwords, as certmint connects to a real server; the unix socket
    // (in a directory only the server user can enter) is not used. --no-sync is initdb's own files only.
    await as('initdb', ['-D', data, '-U', superuser, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync']);
    rmSync(pwfile);
    if (keep) writeFileSync(secret, `${password}\n`, { mode: 0o600 });
  }
  const { stdout: version } = await as('postgres', ['--version']);

  let port;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    // fsync, synchronous_commit and full_page_writes at their (durable) defaults, said out loud.
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${socket} -c fsync=on -c synchronous_commit=on -c full_page_writes=on`;
    try {
      await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
      break;
    } catch (err) {
      const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
      if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
      throw new Error(`pg_ctl start failed: ${err.message}\n${log.slice(-2000)}`);
    }
  }
  const pid = postmasterPid(data);
  const url = (database) => `postgres://${superuser}:${password}@127.0.0.1:${port}/${database}`;
  return {
    version: version.trim(),
    reused,
    port,
    url,
    pid,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    cpuMs: () => clusterCpuMs(pid),
    stop,
  };
}

function postmasterPid(data) {
  try {
    return Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU (user + system, ms) of the whole cluster so far: the postmaster, its live children (the
 * backends serving certmint's pool, the WAL writer, checkpointer, …) and, through the postmaster's
 * cutime/cstime, the children that already exited.
 */
export function clusterCpuMs(postmaster) {
  const fieldsOf = (pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "(comm)": ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  };
  const own = fieldsOf(postmaster);
  let ticks = own[11] + own[12] + own[13] + own[14];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === postmaster) continue;
    try {
      const f = fieldsOf(entry);
      if (f[1] === postmaster) ticks += f[11] + f[12];
    } catch {
      // exited meanwhile: its time is in the postmaster's cutime now
    }
  }
  return ticksToMs(ticks);
}
