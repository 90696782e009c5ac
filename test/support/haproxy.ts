import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireOrSkip } from './clients.js';
import { freePort } from './ports.js';
import { captureChildLogs } from './suite-log.js';

/**
 * Debian's haproxy in front of several `certmint serve` instances, the way an operator runs it:
 * TLS ends at haproxy (with a certificate the clients trust), every HTTP request is balanced on
 * its own (mode http, roundrobin: consecutive requests of one keep-alive client reach different
 * instances), and is encrypted again to the backend, whose certificate haproxy verifies against
 * certmint's roots. Instances whose GET /ready fails are taken out until it passes again; when
 * none passes, all of them get the requests (fail open), as in deploy/haproxy/haproxy.cfg.
 * Listens on a free port of 127.0.0.1 only; the config and the stats socket live in a temp dir.
 */
export interface Haproxy {
  /** https://localhost:<port>: the URL the clients and the instances' server.baseUrl use. */
  readonly url: string;
  readonly port: number;
  /** Each backend's state as haproxy's health checks see it: name → "UP", "DOWN", "UP 1/2", … */
  serverStates(): Promise<Record<string, string>>;
  /** Requests haproxy sent again (retry-on) and sent again to another instance (redispatch), from its stats. */
  retries(): Promise<{ retries: number; redispatches: number }>;
  /** Resolves once every named backend is in `state` (UP or DOWN); rejects after `timeoutMs`. */
  waitFor(names: readonly string[], state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /** The tail of haproxy's own log (one line per request: which backend answered, with what status). */
  output(): string;
  /**
   * Every request haproxy logged so far, counted by "<backend server> <status>", e.g.
   * "certmint1 200", "certmint2 502", "certmint1-open 503" (no instance up: the fail-open twin
   * answered), "<NOSRV> 503" (no server at all), from its whole log.
   */
  answers(): Record<string, number>;
  stop(): Promise<void>;
}

export interface HaproxyBackend {
  /** The server's name in haproxy's config and log. */
  readonly name: string;
  /** 127.0.0.1:<port> of a certmint instance with TLS. */
  readonly address: string;
}

export interface HaproxyOptions {
  readonly backends: readonly HaproxyBackend[];
  /** The frontend's certificate chain (leaf first) and its private key, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  /** PEM file of the roots the backends' certificates chain to. */
  readonly caFile: string;
  /** The port to listen on; a free one by default. Known in advance when the backends' baseUrl names it. */
  readonly port?: number;
  /** Milliseconds between health checks of each backend; 500 by default. */
  readonly checkIntervalMs?: number;
}

export const haproxyAvailable = (): boolean => requireOrSkip('haproxy', 'apt-get install haproxy');

const READY_TIMEOUT_MS = 15_000;
/** The name of each instance's fail-open twin (a backup server, used only while no instance is UP). */
export const FAIL_OPEN_SUFFIX = '-open';
const OUTPUT_TAIL = 64_000;

export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'certmint-haproxy-'));
  const port = options.port ?? (await freePort());
  const crtFile = path.join(dir, 'frontend.pem');
  const configFile = path.join(dir, 'haproxy.cfg');
  const statsSocket = path.join(dir, 'stats.sock');
  // haproxy reads the chain and the key from one file.
  await writeFile(crtFile, `${options.certPem.trimEnd()}\n${options.keyPem.trimEnd()}\n`, { mode: 0o600 });
  await writeFile(configFile, haproxyConfig(options, port, crtFile, statsSocket));

  // -db: stay in the foreground, log to stderr (the log directive below), exit with the test.
  const child = spawn('haproxy', ['-db', '-f', configFile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  captureChildLogs(child, 'haproxy');
  let output = '';
  let partial = '';
  const answers: Record<string, number> = {};
  const keep = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_TAIL);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // option httplog: `<client> [<date>] acme~ certmint/<server> <timers> <status> <bytes> …`
      const m = / certmint\/(\S+) \S+ (-?\d+) /.exec(line);
      if (m) answers[`${m[1]} ${m[2]}`] = (answers[`${m[1]} ${m[2]}`] ?? 0) + 1;
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      process.removeListener('exit', killOnExit);
      resolve();
    });
    child.once('error', (err) => {
      keep(Buffer.from(`${String(err)}\n`));
      exited = true;
      resolve();
    });
  });

  /** `show stat` of the certmint backend: one row per server and one named BACKEND, by column name. */
  const backendStats = async (): Promise<Record<string, string>[]> => {
    const lines = (await statsCommand(statsSocket, 'show stat\n')).split('\n').filter((l) => l.trim() !== '');
    const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
    return lines
      .map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header[i] ?? String(i), cell])))
      .filter((row) => row.pxname === 'certmint');
  };
  const serverStates = async (): Promise<Record<string, string>> =>
    Object.fromEntries((await backendStats()).filter((r) => r.svname !== 'BACKEND').map((r) => [r.svname!, r.status!]));
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const haproxy: Haproxy = {
    url: `https://localhost:${port}`,
    port,
    serverStates,
    async retries() {
      const backend = (await backendStats()).find((r) => r.svname === 'BACKEND');
      return { retries: Number(backend?.wretr ?? 0), redispatches: Number(backend?.wredis ?? 0) };
    },
    async waitFor(names, state, timeoutMs = READY_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, string> = {};
      for (;;) {
        if (exited) throw new Error(`haproxy exited:\n${output}`);
        last = await serverStates().catch(() => ({}));
        if (names.every((n) => last[n] === state)) return;
        if (Date.now() > deadline) throw new Error(`haproxy backends not all ${state} after ${timeoutMs} ms: ${JSON.stringify(last)}\n${output.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    output: () => output,
    answers: () => ({ ...answers }),
    stop,
  };
  try {
    await haproxy.waitFor(options.backends.map((b) => b.name), 'UP');
  } catch (err) {
    await stop();
    throw err;
  }
  return haproxy;
}

function haproxyConfig(o: HaproxyOptions, port: number, crtFile: string, statsSocket: string): string {
  const inter = o.checkIntervalMs ?? 500;
  return `# Generated by test/support/haproxy.ts
global
  log stderr format raw local0 info
  stats socket ${statsSocket} mode 600 level admin
  maxconn 2000

defaults
  mode http
  log global
  option httplog
  # The client's address for certmint's logs and per-IP limits.
  option forwardfor
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s
  # A request an instance never answered (refused, or the connection closed without a response: it
  # died) is sent to the other instance. Safe for ACME: a POST that did reach the dead instance
  # spent its nonce there, so its replay is refused with badNonce and the client signs anew.
  retries 2
  option redispatch 1
  retry-on conn-failure empty-response

frontend acme
  bind 127.0.0.1:${port} ssl crt ${crtFile} alpn http/1.1
  default_backend certmint

backend certmint
  # Each request on its own, not each connection: one client's requests reach every instance.
  balance roundrobin
  option httpchk
  http-check send meth GET uri /ready ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  # Re-encrypted to the instances; their certificates (from certmint's own CA, for localhost)
  # are verified against certmint's roots.
  default-server ssl verify required ca-file ${o.caFile} sni str(localhost) verifyhost localhost check-sni localhost check inter ${inter} fall 2 rise 2
${o.backends.map((b) => `  server ${b.name} ${b.address}`).join('\n')}
  # Fail open: when every instance fails /ready at once (the shared database is down), requests
  # still reach them, unchecked, instead of haproxy's own 503 page. The instances answer ACME:
  # serverInternal with Retry-After, and fresh nonces (which need no database), so clients back
  # off and carry on; haproxy's page has neither, and a client without a nonce gives up at once.
  option allbackups
${o.backends.map((b) => `  server ${b.name}${FAIL_OPEN_SUFFIX} ${b.address} backup no-check`).join('\n')}
`;
}

/** One command on haproxy's stats socket (a unix socket): its whole answer. */
function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let answer = '';
    conn.setEncoding('utf8');
    conn.setTimeout(2_000, () => conn.destroy(new Error('haproxy stats socket timed out')));
    conn.on('data', (chunk: string) => (answer += chunk));
    conn.once('end', () => resolve(answer));
    conn.once('error', reject);
    conn.end(command);
  });
}
