import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findOnPath, requireOrSkipFound } from './clients.js';
import { freePort } from './ports.js';
import { registerSecrets } from './suite-log.js';

const run = promisify(execFile);

/**
 * A throw-away PostgreSQL cluster for one test file, from Debian's `postgresql` package: initdb
 * into a temporary directory, pg_ctl start on a free loopback port, pg_ctl stop -m immediate and
 * the directory removed afterwards. Nothing of the machine's own PostgreSQL (service, config,
 * port 5432) is used or touched.
 *
 *   const available = postgresAvailable();
 *   describe.skipIf(!available)('…', () => {
 *     let cluster: PostgresCluster;
 *     beforeAll(async () => { cluster = await startPostgres(); });
 *     afterAll(async () => cluster?.stop());
 *     it('…', async () => { const url = await cluster.createDatabase(); … });
 *   });
 */
export interface PostgresCluster {
  readonly port: number;
  /** The superuser every URL names; its password is `password`. */
  readonly user: string;
  readonly password: string;
  /** The cluster's temporary directory: data/, the unix socket, server.log. */
  readonly dir: string;
  /** postgres://user:password@127.0.0.1:port/<database> */
  url(database: string): string;
  /** Creates an empty database (a fresh name unless given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server at once (-m immediate: the data is thrown away anyway) and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * A database outage: `pg_ctl stop -m fast` (open connections are ended, as in a restart of the
   * database), keeping the data and the port. startServer() brings the same cluster back.
   */
  stopServer(): Promise<void>;
  /** Starts the cluster stopServer() stopped, on the same port with the same data. */
  startServer(): Promise<void>;
}

export const POSTGRES_INSTALL_HINT = 'apt-get install postgresql';

/**
 * The directory with initdb, pg_ctl and postgres: Debian keeps them off PATH, in
 * /usr/lib/postgresql/<version>/bin (the newest version wins); elsewhere they are on PATH.
 */
export function postgresBinDir(): string | undefined {
  const has = (dir: string) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(dir, b)));
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(path.join(root, v, 'bin'))) return path.join(root, v, 'bin');
  }
  const initdb = findOnPath('initdb');
  return initdb !== undefined && has(path.dirname(initdb)) ? path.dirname(initdb) : undefined;
}

/** root runs the server as the `postgres` user (initdb and postgres refuse root); anyone else as themselves. */
function serverUser(): { uid: number; gid: number; prefix: string[] } | undefined {
  if (process.getuid?.() !== 0) return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, prefix: [] };
  try {
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
    if (!passwd) return undefined;
    const [, , uid, gid] = passwd.split(':');
    return { uid: Number(uid), gid: Number(gid), prefix: ['runuser', '-u', 'postgres', '--'] };
  } catch {
    return undefined;
  }
}

/**
 * Whether PostgreSQL tests may run: the project's client convention (see requireOrSkip):
 * missing → skip with a hint, or fail under CERTMINT_REQUIRE_CLIENTS=1.
 */
export function postgresAvailable(): boolean {
  const bin = postgresBinDir();
  if (bin === undefined) {
    return requireOrSkipFound(false, 'PostgreSQL (initdb, pg_ctl) is not in /usr/lib/postgresql/*/bin nor on PATH', 'PostgreSQL', POSTGRES_INSTALL_HINT);
  }
  return requireOrSkipFound(serverUser() !== undefined, 'running as root, but there is no "postgres" user to run the server as', 'PostgreSQL', POSTGRES_INSTALL_HINT);
}

/** Starts a cluster; retries with another port when the one picked was taken meanwhile. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const user = serverUser();
  if (bin === undefined || user === undefined) throw new Error(`PostgreSQL is not available here (${POSTGRES_INSTALL_HINT})`);
  const as = (command: string, args: string[]) => {
    const [exe, ...rest] = [...user.prefix, path.join(bin, command), ...args];
    return run(exe!, rest, { timeout: 60_000 });
  };

  const dir = await mkdtemp(path.join(tmpdir(), 'certmint-pg-'));
  const data = path.join(dir, 'data');
  const superuser = 'certmint_test';
  const password = randomBytes(12).toString('hex');
  // The run's log scan fails the suite if any log line ever shows it.
  registerSecrets([password]);
  let stopped = false;
  let pidOnExit: (() => void) | undefined;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (pidOnExit) process.removeListener('exit', pidOnExit);
    try {
      if (existsSync(path.join(data, 'postmaster.pid'))) await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    } catch {
      // pg_ctl could not stop it: SIGQUIT is PostgreSQL's immediate shutdown, it takes the backends along.
      killPostmaster(data, 'SIGQUIT');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await chmod(dir, 0o700);
    chownSync(dir, user.uid, user.gid);
    const pwfile = path.join(dir, 'pwfile');
    await writeFile(pwfile, password + '\n', { mode: 0o600 });
    chownSync(pwfile, user.uid, user.gid);
    // Unix socket: trust, for nothing in the tests uses it (and its directory is ours alone).
    // TCP: 127.0.0.1 only, with a password, so tests see real authentication failures.
    await as('initdb', [
      '-D', data, '-U', superuser, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]);
    rmSync(pwfile);
    await mkdir(path.join(dir, 'socket'), { mode: 0o700 });
    chownSync(path.join(dir, 'socket'), user.uid, user.gid);

    let port = 0;
    // fsync off: the cluster is thrown away after the test file; durability is not under test here.
    const serverOptions = () =>
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${path.join(dir, 'socket')} -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200`;
    const pgCtlStart = () => as('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', serverOptions(), '-w', '-t', '30', 'start']);
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pgCtlStart();
        break;
      } catch (e) {
        const log = safeRead(path.join(dir, 'server.log'));
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`pg_ctl start failed: ${(e as Error).message}\n${log.slice(-2000)}`);
      }
    }
    // A test process that dies without afterAll must not leave a server behind.
    pidOnExit = () => killPostmaster(data, 'SIGQUIT');
    process.once('exit', pidOnExit);

    const url = (database: string) =>
      `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    let databases = 0;
    return {
      port,
      user: superuser,
      password,
      dir,
      url,
      async createDatabase(name?: string): Promise<string> {
        const database = name ?? `certmint_${process.pid}_${++databases}`;
        const admin = new pg.Client({ connectionString: url('postgres') });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        } finally {
          await admin.end();
        }
        return url(database);
      },
      stop,
      async stopServer(): Promise<void> {
        if (stopped) throw new Error('the cluster was removed (stop())');
        await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
      },
      async startServer(): Promise<void> {
        if (stopped) throw new Error('the cluster was removed (stop())');
        try {
          await pgCtlStart();
        } catch (e) {
          throw new Error(`pg_ctl start (again, on port ${port}) failed: ${(e as Error).message}\n${safeRead(path.join(dir, 'server.log')).slice(-2000)}`);
        }
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The postmaster's pid is the first line of postmaster.pid (while it runs). */
function killPostmaster(data: string, signal: NodeJS.Signals): void {
  const pid = Number(safeRead(path.join(data, 'postmaster.pid')).split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
