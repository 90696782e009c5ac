import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoClient } from '../interop/go-client.js';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { httpsGet, startCertmintPair, type CertmintPair } from '../support/certmint-pair.js';
import type { CertmintProcess } from '../support/certmint-process.js';
import { requireGoClientOrSkip } from '../support/clients.js';
import { FAIL_OPEN_SUFFIX, haproxyAvailable } from '../support/haproxy.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { postgresAvailable } from '../support/postgres.js';

// The shared ledger's database goes away (pg_ctl stop -m fast) for a few seconds under load and
// comes back. Meanwhile each instance answers 503 with a serverInternal problem document and a
// Retry-After, never a stack trace or SQL, its /ready fails, and no process exits; afterwards the
// same processes issue again without a restart. Requests go to each instance directly: through
// haproxy, both instances failing /ready would be answered by haproxy itself.

const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);
const available = postgresAvailable() && haproxyAvailable() && acmegoFound;

const WORKERS = 6;
/** Workers of the Go client's load through haproxy, alongside. */
const GO_WORKERS = 4;
const OUTAGE_MS = 4_000;
const RECOVERY_DEADLINE_MS = 30_000;
/** A pause between a worker's requests: the load is bounded, not a flood. */
const PAUSE_MS = 25;
const URN = 'urn:ietf:params:acme:error:';

interface Exchange {
  readonly instance: 1 | 2;
  readonly what: 'nonce' | 'new-order' | 'ready';
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly retryAfter?: string;
}

/** What must never reach a client: a stack frame, a source path, SQL. */
const LEAKS = [/\n\s+at .+:\d+:\d+/, /\/(src|dist|node_modules)\//, /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/i];
/** Nor where the database is or what pg said (the problem and /ready say "cannot be reached"). */
const CONNECTION_DETAILS = [/ECONNREFUSED|57P01|terminating connection/i, /postgres(ql)?:\/\//i];

describe.skipIf(!available)('the shared ledger\'s database stops for a few seconds under load', () => {
  let pair: CertmintPair;
  let account: WireAccount;

  beforeAll(async () => {
    // Orders are made without end here; the per-account limits would refuse them, not the outage.
    pair = await startCertmintPair({ config: { limits: { newOrdersPerAccountPerHour: 0, pendingAuthorizationsPerAccount: 0, newAuthorizationsPerAccountPerHour: 0 } } });
    const created = await new AcmeWire(pair.baseUrl, pair.rootPem).newAccount();
    expect(created.res.status, created.res.body).toBe(201);
    account = created.account!;
  });
  let goLoad: ChildProcess | undefined;
  afterAll(async () => {
    goLoad?.kill('SIGKILL');
    await pair?.stop();
  });

  /** The Go client's issuance load through haproxy until SIGINT: its summary, and the serials it received. */
  function startGoLoad(received: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    goLoad = spawn(
      acmego!,
      [
        '-mode', 'load', '-account-key', 'ec256', '-n', '100000', '-c', String(GO_WORKERS),
        '-directory', pair.directoryUrl, '-ca-bundle', pair.rootFile, '-http01-listen', `127.0.0.1:${pair.http01Port}`,
        '-name-template', 'w%d-i%d.lb.outage.test', '-received-log', received, '-flow-timeout', '30s', '-error-pause', '200ms',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    goLoad.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    goLoad.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
    return new Promise((resolve) => goLoad!.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('503 serverInternal and /ready 503 while it is down, no process exits, issuance again once it is back', { timeout: 180_000 }, async () => {
    const exchanges: Exchange[] = [];
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    let running = true;
    let orders = 0;

    type Answer = { status: number; headers: Record<string, unknown>; body: string };
    const record = async (instance: CertmintProcess, what: Exchange['what'], send: () => Promise<Answer>) => {
      const sentAt = now();
      // A refused or broken connection is an answer too (status 0): it would mean the process went.
      const res = await send().catch((err: unknown): Answer => ({ status: 0, headers: {}, body: String(err) }));
      const exchange: Exchange = {
        instance: instance === pair.instances[0] ? 1 : 2, what, sentAt, receivedAt: now(), status: res.status,
        contentType: String(res.headers['content-type'] ?? ''), body: res.body,
        ...(res.headers['retry-after'] !== undefined ? { retryAfter: String(res.headers['retry-after']) } : {}),
      };
      exchanges.push(exchange);
      return { exchange, nonce: res.headers['replay-nonce'] as string | undefined };
    };

    // Each worker orders on one instance, directly: a fresh nonce, then newOrder. Should a nonce
    // not be had, the last one it got (unspent) is sent: the request must still reach the ledger.
    const worker = async (w: number) => {
      const instance = pair.instances[w % 2]!;
      const wire = new AcmeWire(instance.directUrl, pair.rootPem);
      let spare: string | undefined;
      while (running) {
        const got = await record(instance, 'nonce', () => wire.send('HEAD', `${instance.directUrl}/acme/new-nonce`));
        const nonce = got.exchange.status === 200 ? got.nonce : spare;
        if (nonce !== undefined) {
          const url = `${pair.baseUrl}/acme/new-order`;
          const payload = new TextEncoder().encode(JSON.stringify({ identifiers: [{ type: 'dns', value: `o${++orders}.outage.test` }] }));
          const jws = await new FlattenedSign(payload).setProtectedHeader({ alg: account.key.alg, nonce, url, kid: account.url }).sign(account.key.privateKey);
          const ordered = await record(instance, 'new-order', () => wire.send('POST', `${instance.directUrl}/acme/new-order`, JSON.stringify(jws)));
          spare = ordered.nonce ?? (got.exchange.status === 200 ? undefined : spare);
        }
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
      }
    };
    const readiness = async () => {
      while (running) {
        const ready = (instance: CertmintProcess) => async (): Promise<Answer> => {
          const res = await httpsGet(`${instance.directUrl}/ready`, pair.rootPem);
          return { status: res.status, headers: {}, body: res.body.toString('utf8') };
        };
        await Promise.all(pair.instances.map((instance) => record(instance, 'ready', ready(instance))));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const load = Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), readiness()]);
    const received = path.join(pair.tempDir, 'received.log');
    const receivedCount = () => (existsSync(received) ? readFileSync(received, 'utf8').split('\n').filter(Boolean).length : 0);
    const goLoadDone = startGoLoad(received);

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stopping = now();
    await pair.postgres.stopServer();
    const down = now();
    // Once haproxy has taken both instances out (their /ready fails), it fails open: a request
    // through it still reaches an instance, which hands out a nonce and refuses the order itself.
    await pair.haproxy.waitFor(['certmint1', 'certmint2'], 'DOWN', OUTAGE_MS);
    const bothDown = now();
    const viaProxy = new AcmeWire(pair.baseUrl, pair.rootPem);
    const proxiedNonce = await viaProxy.send('HEAD', `${pair.baseUrl}/acme/new-nonce`);
    const proxiedOrder = await viaProxy.send(
      'POST',
      `${pair.baseUrl}/acme/new-order`,
      JSON.stringify(
        await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ identifiers: [{ type: 'dns', value: 'proxied.outage.test' }] })))
          .setProtectedHeader({ alg: account.key.alg, nonce: proxiedNonce.headers['replay-nonce'] as string, url: `${pair.baseUrl}/acme/new-order`, kid: account.url })
          .sign(account.key.privateKey),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (now() - down))));
    const starting = now();
    await pair.postgres.startServer();
    const up = now();
    const receivedBeforeUp = receivedCount();
    let goRecoveredMs: number | undefined;

    // Until each instance has created an order again (bounded).
    const orderedAfter = (i: 1 | 2) => exchanges.find((e) => e.instance === i && e.what === 'new-order' && e.status === 201 && e.sentAt >= up);
    // And until the Go client received a certificate through haproxy again.
    while ((!orderedAfter(1) || !orderedAfter(2) || goRecoveredMs === undefined) && now() - up < RECOVERY_DEADLINE_MS) {
      if (goRecoveredMs === undefined && receivedCount() > receivedBeforeUp) goRecoveredMs = now() - up;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await load;
    // SIGINT: no new flow starts; the ones under way are cancelled (counted as errors).
    goLoad!.kill('SIGINT');
    const go = await goLoadDone;
    expect(go.code, go.stderr).toBe(0);
    const goResult = JSON.parse(go.stdout.trim().split('\n').pop()!) as { ok: number; errors: number; first_error?: string };
    const serials = readFileSync(received, 'utf8').split('\n').filter(Boolean);
    const inLedger = new Set((await pair.query<{ serial: string }>('SELECT serial FROM certificates')).map((r) => r.serial.replace(/^(00)+/, '')));

    // Strictly inside the outage: sent once the database was down, answered before it was started again.
    const during = exchanges.filter((e) => e.sentAt >= down && e.receivedAt <= starting);
    const unavailable = during.filter((e) => e.status === 503);
    const byKind = (list: readonly Exchange[]) => {
      const counts = new Map<string, number>();
      for (const e of list) counts.set(`instance ${e.instance} ${e.what} ${e.status}`, (counts.get(`instance ${e.instance} ${e.what} ${e.status}`) ?? 0) + 1);
      return [...counts].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
    };
    const firstSuccess = [1, 2].map((i) => Math.round(orderedAfter(i as 1 | 2)!.receivedAt - up));
    console.log(
      `ledger outage: pg_ctl stop took ${Math.round(down - stopping)} ms, down ${Math.round(starting - down)} ms (haproxy had both instances DOWN after ${Math.round(bothDown - down)} ms), pg_ctl start ${Math.round(up - starting)} ms; ` +
        `${exchanges.length} exchanges, ${during.length} inside the outage (${byKind(during)}); ` +
        `first new order after the database was back: ${firstSuccess.join(' ms and ')} ms (instance 1, 2); ` +
        `Go client through haproxy: ${goResult.ok} certificates (${receivedBeforeUp} before the database was back, the first after it in ` +
        `${Math.round(goRecoveredMs ?? -1)} ms), ${goResult.errors} flows failed or cancelled at the end (first: ${goResult.first_error ?? 'none'}); ` +
        `haproxy's answers: ${JSON.stringify(pair.haproxy.answers())}` +
        (pair.errors().length > 0 ? `\nerrors the instances logged:\n${[...new Set(pair.errors())].join('\n')}` : ''),
    );

    expect(during.length).toBeGreaterThan(0);
    // Nonces need no database (an HMAC under a secret read at start), so newNonce may still answer.
    expect(during.filter((e) => e.what !== 'nonce' && e.status !== 503), byKind(during)).toEqual([]);
    expect(during.filter((e) => e.what === 'nonce' && ![200, 503].includes(e.status)), byKind(during)).toEqual([]);
    for (const i of [1, 2] as const) {
      expect(unavailable.filter((e) => e.instance === i && e.what === 'new-order').length, `instance ${i}: ${byKind(during)}`).toBeGreaterThan(0);
      expect(unavailable.filter((e) => e.instance === i && e.what === 'ready').length, `instance ${i}: ${byKind(during)}`).toBeGreaterThan(0);
    }
    for (const e of unavailable.filter((x) => x.what === 'new-order')) {
      expect(e.contentType).toBe('application/problem+json');
      expect(JSON.parse(e.body)).toMatchObject({ type: `${URN}serverInternal`, status: 503 });
      expect(e.retryAfter).toMatch(/^\d+$/);
    }
    // No response at any time, outage or not, shows a stack, a path, SQL, the database's own words.
    for (const e of exchanges) {
      for (const leak of [...LEAKS, ...CONNECTION_DETAILS]) expect(e.body, `${e.what} from instance ${e.instance}: ${e.body}`).not.toMatch(leak);
    }
    // /ready (for probes and operators) says why, in the same words as the problems.
    for (const e of unavailable.filter((x) => x.what === 'ready')) {
      expect(JSON.parse(e.body)).toEqual({ status: 'unavailable', detail: 'the ledger is unavailable: its database cannot be reached' });
    }
    expect(exchanges.some((e) => e.body.includes(pair.postgres.password))).toBe(false);

    // The same processes, never restarted, serve again.
    for (const instance of pair.instances) {
      expect(instance.process.exitCode).toBeNull();
      expect(instance.process.signalCode).toBeNull();
      expect((await httpsGet(`${instance.directUrl}/ready`, pair.rootPem)).status).toBe(200);
    }
    expect(firstSuccess.every((ms) => ms < RECOVERY_DEADLINE_MS)).toBe(true);
    // Through haproxy the Go client rode it out: issuing again after the database came back,
    // every certificate it received in the ledger; failed flows at most one per worker, plus the
    // ones SIGINT cancelled at the end.
    expect(goRecoveredMs, go.stderr).toBeDefined();
    expect(serials.length).toBe(goResult.ok);
    expect(serials.filter((s) => !inLedger.has(s.replace(/^(00)+/, '')))).toEqual([]);
    expect(goResult.errors, goResult.first_error).toBeLessThanOrEqual(2 * GO_WORKERS);
    // Nothing stays half-done: what the instances had begun when the database went (a challenge
    // validated, a certificate signed, not yet committed) is ended once it is back (settled every 5 s).
    const processing = () =>
      pair.query<{ n: number }>(`SELECT (SELECT count(*) FROM orders WHERE status = 'processing') + (SELECT count(*) FROM challenges WHERE status = 'processing') AS n`);
    const settleDeadline = performance.now() + 20_000;
    while (Number((await processing())[0]!.n) > 0 && performance.now() < settleDeadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Number((await processing())[0]!.n)).toBe(0);
    // The outage is logged as warnings (one line each, no stack); nothing at error level.
    expect(pair.errors()).toEqual([]);
    // haproxy failed open: with both instances DOWN, a nonce and an ACME problem still came
    // through it, from an instance's unchecked twin; haproxy never answered on its own (<NOSRV>).
    const proxied = pair.haproxy.answers();
    expect(proxiedNonce.status, JSON.stringify(proxied)).toBe(200);
    expect(proxiedNonce.headers['replay-nonce']).toMatch(/^[\w-]{20,}$/);
    expect(proxiedOrder.status, proxiedOrder.body).toBe(503);
    expect(JSON.parse(proxiedOrder.body)).toMatchObject({ type: `${URN}serverInternal`, status: 503 });
    expect(proxiedOrder.headers['retry-after']).toMatch(/^\d+$/);
    expect(Object.keys(proxied).filter((k) => k.endsWith(`${FAIL_OPEN_SUFFIX} 503`)), JSON.stringify(proxied)).not.toEqual([]);
    expect(Object.keys(proxied).filter((k) => k.startsWith('<NOSRV>')), JSON.stringify(proxied)).toEqual([]);
  });

  it('after the outage a full issuance through haproxy succeeds, by the Go client', { timeout: 120_000 }, async () => {
    await pair.haproxy.waitFor(['certmint1', 'certmint2'], 'UP');
    const out = path.join(pair.tempDir, 'acmego-after-outage');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        acmego!,
        ['-directory', pair.directoryUrl, '-ca-bundle', pair.rootFile, '-http01-listen', `127.0.0.1:${pair.http01Port}`, '-mode', 'single', '-names', 'after.outage.test', '-out', out],
        { timeout: 90_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`acmego failed: ${err.message}\n${stderr}\n${pair.output()}`)) : resolve(stdout)),
      );
    });
    expect(JSON.parse(stdout)).toMatchObject({ mode: 'single', ok: true });
    await expect(opensslVerify(pair.rootFile, path.join(out, 'chain.pem'), path.join(out, 'chain.pem'))).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(path.join(out, 'chain.pem'), 'utf8'))[0]!);
    expect(dnsNames(leaf)).toEqual(['after.outage.test']);
    expect(await pair.query('SELECT status FROM certificates WHERE serial = $1', [leaf.serialNumber.toLowerCase()])).toEqual([{ status: 'valid' }]);
    // The database password is in no line either server wrote (the run's log scan checks every log too).
    for (const instance of pair.instances) expect(instance.output()).not.toContain(pair.postgres.password);
  });
});
