// haproxy (Debian's package) in front of several `certmint serve` instances, as issue 12 runs
// them: HTTP mode, round robin per request, TLS terminated with a certificate the ACME client
// trusts and re-encrypted to the instances (verified against the CA's root), /ready as the health
// check. Stopped at cleanup.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort, onCleanup, spawnLogged } from './processes.mjs';

/** Why haproxy cannot run here, or null when it can. */
export function haproxyUnavailable() {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'haproxy is not installed (apt-get install haproxy)';
  }
}

export function haproxyVersion() {
  return /version (\S+)/i.exec(execFileSync('haproxy', ['-v'], { encoding: 'utf8' }))?.[1] ?? null;
}

/**
 * Starts haproxy on 127.0.0.1:`port` (a free one unless given) in front of `backends` ({name,
 * port}: certmint on 127.0.0.1) and resolves once every backend has passed its health check.
 * `certPem` (leaf and chain) and `keyPem` are what it presents to clients; `caFile` is the root it
 * verifies the backends against. Returns {port, pid, serverStats(), stop()}.
 */
export async function startHaproxy({ dir, port, backends, certPem, keyPem, caFile }) {
  port ??= await freePort();
  const crt = path.join(dir, 'haproxy.pem');
  writeFileSync(crt, `${certPem.trim()}\n${keyPem.trim()}\n`, { mode: 0o600 });
  const socket = path.join(dir, 'haproxy.sock');
  const config = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      `  stats socket ${socket} mode 600 level user`,
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend acme',
      // HTTP/1.1 only, as the client gets from certmint directly (node's https offers no h2).
      `  bind 127.0.0.1:${port} ssl crt ${crt} alpn http/1.1`,
      '  default_backend certmint',
      'backend certmint',
      // Per request, not per connection: prefer-last-server is off, so a keep-alive client is spread too.
      '  balance roundrobin',
      '  option httpchk GET /ready',
      '  http-check expect status 200',
      ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} ssl verify required ca-file ${caFile} verifyhost localhost check inter 1s`),
      '',
    ].join('\n'),
  );
  const p = spawnLogged('haproxy', ['-f', config, '-db'], { logFile: path.join(dir, 'haproxy.log') });
  onCleanup(p.stop);

  const serverStats = () => showStat(socket, backends.map((b) => b.name));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (p.isDone()) throw new Error(`haproxy exited: ${p.tail()}`);
    try {
      const stats = await serverStats();
      // Servers start UP; L7OK says a /ready check actually passed.
      if (backends.every((b) => stats[b.name]?.status === 'UP' && stats[b.name].checkStatus === 'L7OK')) break;
    } catch {
      // the socket is not there yet
    }
    if (Date.now() > deadline) throw new Error(`haproxy: not every backend passed its /ready check within 15 s: ${p.tail()}`);
    await delay(100);
  }
  return { port, pid: p.child.pid, serverStats, stop: p.stop };
}

/** `show stat` on the stats socket: per server its status, last check and responses so far. */
async function showStat(socket, names) {
  const csv = await new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let out = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write('show stat\n'));
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
  const [header, ...lines] = csv.trim().split('\n');
  const keys = header.replace(/^# /, '').split(',');
  const out = {};
  for (const line of lines) {
    const row = Object.fromEntries(line.split(',').map((v, i) => [keys[i], v]));
    if (row.pxname !== 'certmint' || !names.includes(row.svname)) continue;
    const responses = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'].reduce((sum, k) => sum + (Number(row[k]) || 0), 0);
    out[row.svname] = { status: row.status, checkStatus: row.check_status, responses, connections: Number(row.stot) || 0 };
  }
  return out;
}
