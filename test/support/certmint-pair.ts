import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import pg from 'pg';
import { merge } from '../../src/config/config.js';
import { startCertmint, type CertmintProcess, type ConfigOverrides } from './certmint-process.js';
import type { ChallTestSrv } from './challtestsrv.js';
import { startHaproxy, type Haproxy } from './haproxy.js';
import { freePort } from './ports.js';
import { startPostgres, type PostgresCluster } from './postgres.js';
import { parsePrometheusText } from './prometheus-text.js';

/**
 * Scale-out as an operator sets it up (issue 12): one PostgreSQL database as the shared ledger,
 * two `certmint serve` processes on it with the same CA files, and haproxy in front balancing
 * each request. Both instances have haproxy's URL as server.baseUrl (the JWS `url` of every
 * request names it), validate against one DNS server and fetch http-01 and tls-alpn-01 answers
 * from the same ports, so a client may be served by either at any step.
 *
 * Instance 1 starts first, creates the CA and records it in the ledger; its `<dataDir>/ca` is
 * copied into instance 2's data dir before that one starts. haproxy's frontend serves instance
 * 1's own server certificate (issued by certmint's CA for localhost and 127.0.0.1).
 */
export interface CertmintPair {
  readonly postgres: PostgresCluster;
  /** The ledger's URL without its password (the instances read that from ledger.passwordFile). */
  readonly ledgerUrl: string;
  readonly haproxy: Haproxy;
  readonly instances: readonly [CertmintProcess, CertmintProcess];
  /** haproxy's URL, every instance's server.baseUrl. */
  readonly baseUrl: string;
  readonly directoryUrl: string;
  readonly rootPem: string;
  readonly rootFile: string;
  /** Where both instances fetch http-01 and tls-alpn-01 answers: the client under test listens there. */
  readonly http01Port: number;
  readonly tlsAlpn01Port: number;
  readonly dns: ChallTestSrv;
  /** Instance 1's temporary directory, for the clients' state and output. */
  readonly tempDir: string;
  /** A query on the ledger database, as psql would run it. */
  query<R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Requests each instance answered so far, by "METHOD route" (route patterns, as /metrics counts
   * them), without haproxy's health checks (/ready) and the scrapes themselves (/metrics).
   */
  requestsServed(): Promise<[Record<string, number>, Record<string, number>]>;
  /** requestsServed() of one instance (0 or 1), e.g. the one still running. */
  requestsServedBy(index: 0 | 1): Promise<Record<string, number>>;
  /** The tails of both servers' and haproxy's output, for failure messages. */
  output(): string;
  /** Every error line (pino level 50 or 60) either instance wrote since both were up: "instance <n>: <msg>: <err.message>". */
  errors(): string[];
  stop(): Promise<void>;
}

export interface CertmintPairOptions {
  /** Merged over both instances' generated config (after the pair's own settings). */
  readonly config?: ConfigOverrides;
  readonly env?: Readonly<Record<string, string>>;
}

export async function startCertmintPair(options: CertmintPairOptions = {}): Promise<CertmintPair> {
  const postgres = await startPostgres();
  const started: { stop(): Promise<void> }[] = [];
  let pool: pg.Pool | undefined;
  try {
    const withPassword = await postgres.createDatabase();
    // The password goes in a file (ledger.passwordFile), as with a Docker or Kubernetes secret.
    const url = new URL(withPassword);
    url.password = '';
    const ledgerUrl = url.toString();
    // Named in both instances' config before haproxy binds it, seconds later: outside the ephemeral range.
    const proxyPort = await freePort();
    const baseUrl = `https://localhost:${proxyPort}`;
    const shared: ConfigOverrides = {
      server: { baseUrl },
      // Small: the instance that did not build the newest CRL adopts it from the ledger at its next check.
      crl: { checkInterval: '1s' },
    };
    const configOf = (extra: ConfigOverrides, passwordFile: string) =>
      merge(merge(shared, { ledger: { url: ledgerUrl, passwordFile, poolSize: 10 } }), merge(extra, options.config ?? {}));
    const common = { behindProxy: true, secrets: [postgres.password], ...(options.env ? { env: options.env } : {}) };

    const passwordFile = path.join(postgres.dir, 'ledger-password');
    await writeFile(passwordFile, `${postgres.password}\n`, { mode: 0o600 });
    const first = await startCertmint({ ...common, config: configOf({}, passwordFile) });
    started.push(first);
    const second = await startCertmint({
      ...common,
      dns: first.dns,
      seedCaFrom: path.join(first.dataDir, 'ca'),
      config: configOf({ validation: { http01Port: first.http01Port, tlsAlpn01Port: first.tlsAlpn01Port } }, passwordFile),
    });
    started.push(second);

    const errors = [first, second].flatMap((s, i) => errorLinesOf(s, i + 1));
    const tlsDir = path.join(first.dataDir, 'tls');
    const haproxy = await startHaproxy({
      port: proxyPort,
      certPem: await readFile(path.join(tlsDir, 'server.pem'), 'utf8'),
      keyPem: await readFile(path.join(tlsDir, 'server.key.pem'), 'utf8'),
      caFile: first.rootFile,
      backends: [first, second].map((s, i) => ({ name: `certmint${i + 1}`, address: new URL(s.directUrl).host })),
    });
    started.push(haproxy);

    const db = new pg.Pool({ connectionString: withPassword, max: 4 });
    pool = db;
    // A connection the database ended (the outage test stops PostgreSQL) must not crash the test process.
    db.on('error', () => undefined);
    const instances = [first, second] as const;
    let stopped: Promise<void> | undefined;
    return {
      postgres,
      ledgerUrl,
      haproxy,
      instances,
      baseUrl,
      directoryUrl: `${baseUrl}/directory`,
      rootPem: first.rootPem,
      rootFile: first.rootFile,
      http01Port: first.http01Port,
      tlsAlpn01Port: first.tlsAlpn01Port,
      dns: first.dns,
      tempDir: first.tempDir,
      query: async <R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) =>
        (await db.query<R>(sql, [...params])).rows,
      requestsServed: async () => {
        const [a, b] = await Promise.all(instances.map((s) => requestCounts(s.directUrl, first.rootPem)));
        return [a!, b!];
      },
      requestsServedBy: (index) => requestCounts(instances[index].directUrl, first.rootPem),
      errors: () => errors.flatMap((e) => e.lines),
      output: () =>
        instances.map((s, i) => `--- certmint${i + 1} ---\n${s.output().slice(-6000)}`).join('\n') + `\n--- haproxy ---\n${haproxy.output().slice(-4000)}`,
      stop: () =>
        (stopped ??= (async () => {
          await db.end().catch(() => undefined);
          await stopAll(started);
          await postgres.stop();
        })()),
    };
  } catch (err) {
    await pool?.end().catch(() => undefined);
    await stopAll(started).catch(() => undefined);
    await postgres.stop();
    throw err;
  }
}

/** Stops the newest first (haproxy, instance 2, instance 1 whose DNS server instance 2 borrowed); the first error is thrown after all stopped. */
async function stopAll(started: readonly { stop(): Promise<void> }[]): Promise<void> {
  let first: unknown;
  for (const s of [...started].reverse()) {
    await s.stop().catch((err: unknown) => (first ??= err));
  }
  if (first !== undefined) throw first;
}

/** Collects the error lines `server` writes from now on, without their stacks. */
function errorLinesOf(server: CertmintProcess, instance: number): { lines: string[] }[] {
  return [server.process.stdout, server.process.stderr].map((stream) => {
    const collected = { lines: [] as string[], partial: '' };
    stream?.on('data', (chunk: Buffer) => {
      const lines = (collected.partial + chunk.toString('utf8')).split('\n');
      collected.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!/"level":(50|60)/.test(line)) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
          collected.lines.push(`instance ${instance}: ${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`);
        } catch {
          collected.lines.push(`instance ${instance}: ${line.slice(0, 500)}`);
        }
      }
    });
    return collected;
  });
}

/** GET over HTTPS trusting only `ca`: status and body. */
export function httpsGet(url: string, ca: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

async function requestCounts(directUrl: string, ca: string): Promise<Record<string, number>> {
  const res = await httpsGet(`${directUrl}/metrics`, ca);
  if (res.status !== 200) throw new Error(`GET ${directUrl}/metrics: ${res.status} ${res.body.toString('utf8').slice(0, 500)}`);
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(res.body.toString('utf8')).find('certmint_http_request_duration_seconds_count')) {
    const route = s.labels.route ?? '';
    if (route.endsWith('/ready') || route.endsWith('/metrics')) continue;
    const key = `${s.labels.method} ${route}`;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}
