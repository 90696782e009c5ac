import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint, FlattenedSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoClient } from '../interop/go-client.js';
import { AcmeWire, problemOf, type WireResponse } from '../support/acme-wire.js';
import { requireGoClientOrSkip } from '../support/clients.js';
import { CERTMINT_MAIN, startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { newAccountKey } from '../support/jws-client.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

// server.workers: 2 on the SQLite ledger (issue 27): a real `certmint serve` whose primary forks two
// worker processes on one listener. AcmeWire opens a connection per request, so Node's round-robin
// hands consecutive requests to alternating workers; the Certmint-Worker header says which answered.

const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);

const NO_LIMITS = {
  CERTMINT_LIMITS_NEW_ORDERS_PER_ACCOUNT_PER_HOUR: '0',
  CERTMINT_LIMITS_NEW_ACCOUNTS_PER_IP_PER_HOUR: '0',
  CERTMINT_LIMITS_PENDING_AUTHORIZATIONS_PER_ACCOUNT: '0',
  CERTMINT_LIMITS_NEW_AUTHORIZATIONS_PER_ACCOUNT_PER_HOUR: '0',
};
/** Serials as Go prints big.Int bytes: no leading zero octets. */
const normalized = (hex: string) => hex.toLowerCase().replace(/^(00)+/, '');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const workerOf = (res: WireResponse) => String(res.headers['certmint-worker']);

let certmint: CertmintProcess;
let wire: AcmeWire;
let responder: Http01Responder | undefined;
let load: ChildProcess | undefined;

beforeAll(async () => {
  certmint = await startCertmint({ config: { server: { workers: 2 } }, env: NO_LIMITS });
  wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
}, 60_000);
afterAll(async () => {
  load?.kill('SIGKILL');
  await responder?.stop();
  await certmint?.stop();
});

/** Polls /health (a connection each) until `count` distinct workers, or one newer than `after`, have answered. */
async function workersAnswering(count: number, after = 0): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const res = await wire.get('/health');
    expect(res.status).toBe(200);
    seen.add(workerOf(res));
    if ([...seen].filter((id) => Number(id) > after).length >= count) return seen;
    await sleep(50);
  }
  throw new Error(`fewer than ${count} workers answered /health: ${[...seen].join(', ')}\n${certmint.output()}`);
}

/** The worker processes of `server`'s primary: its children running main.js. */
function workerPids(server: CertmintProcess = certmint): number[] {
  const out = execFileSync('ps', ['--ppid', String(server.process.pid), '-o', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('main.js')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

/**
 * A challenge POST of a new account's order for `name` whose http-01 validation `responder` has
 * received and holds unanswered: the validation is in flight until `release()`; `answered` is the
 * POST's response.
 */
async function validationInFlight(client: AcmeWire, responder: Http01Responder, name: string) {
  const { account } = await client.newAccount();
  const order = JSON.parse((await client.newOrder(account!, [name])).body) as { authorizations: string[] };
  const authz = JSON.parse((await client.postAsGet(account!, order.authorizations[0]!)).body) as { challenges: { type: string; url: string; token: string }[] };
  const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
  responder.set(challenge.token, `${challenge.token}.${await calculateJwkThumbprint(account!.key.jwk, 'sha256')}`);
  const release = responder.hold();
  const answered = client.post(account!.key, challenge.url, {}, account!.url);
  for (let i = 0; i < 200 && responder.requests === 0; i++) await sleep(25);
  expect(responder.requests, 'the validation did not start').toBeGreaterThan(0);
  return { token: challenge.token, release, answered };
}

/** A new-account request of a fresh key, signed with `nonce`. */
async function newAccountJws(nonce: string, url: string): Promise<string> {
  const key = await newAccountKey();
  const payload = new TextEncoder().encode(JSON.stringify({ termsOfServiceAgreed: true }));
  return JSON.stringify(await new FlattenedSign(payload).setProtectedHeader({ alg: key.alg, nonce, url, jwk: key.jwk }).sign(key.privateKey));
}

function ledger<T>(read: (db: Database.Database) => T, server: CertmintProcess = certmint): T {
  const db = new Database(path.join(server.dataDir, 'ledger.sqlite3'), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('server.workers: 2 on one SQLite ledger', () => {
  it('answers /health from both workers; a nonce one issued is spent at the other, and refused the second time', { timeout: 60_000 }, async () => {
    expect((await workersAnswering(2)).size).toBe(2);
    const nonces: { nonce: string; issuer: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await wire.send('HEAD', `${certmint.baseUrl}/acme/new-nonce`);
      nonces.push({ nonce: String(res.headers['replay-nonce']), issuer: workerOf(res) });
    }
    expect(new Set(nonces.map((n) => n.issuer)).size).toBe(2);
    const url = `${certmint.baseUrl}/acme/new-account`;
    const signed = (nonce: string) => newAccountJws(nonce, url);
    let crossed = 0;
    // In reverse: with strict round-robin, the k-th HEAD and the k-th POST would meet the same worker.
    for (const { nonce, issuer } of [...nonces].reverse()) {
      const res = await wire.send('POST', url, await signed(nonce));
      expect(res.status, res.body).toBe(201);
      if (workerOf(res) !== issuer) crossed += 1;
    }
    expect(crossed).toBeGreaterThan(0);
    // Spent once, at whichever worker: every worker refuses it now.
    for (const { nonce } of nonces.slice(0, 4)) {
      const again = await wire.send('POST', url, await signed(nonce));
      expect(again.status).toBe(400);
      expect(problemOf(again).type).toBe('urn:ietf:params:acme:error:badNonce');
    }
  });

  it('a nonce one worker issued is spent once at the other; replayed at either worker it is badNonce', { timeout: 60_000 }, async () => {
    const [one, other] = [...(await workersAnswering(2))] as [string, string];
    const url = `${certmint.baseUrl}/acme/new-account`;
    /** The next connection goes to `target`: round-robin hands it the one after a connection the other worker answered. */
    const at = async (target: string, request: () => Promise<WireResponse>) => {
      while (workerOf(await wire.get('/health')) === target);
      const res = await request();
      expect(workerOf(res), 'round-robin sent the request elsewhere').toBe(target);
      return res;
    };
    for (const [issuer, spender] of [[one, other], [other, one]] as const) {
      let nonce = '';
      while (!nonce) {
        const res = await wire.send('HEAD', `${certmint.baseUrl}/acme/new-nonce`);
        if (workerOf(res) === issuer) nonce = String(res.headers['replay-nonce']);
      }
      const body = await newAccountJws(nonce, url);
      const spent = await at(spender, () => wire.send('POST', url, body));
      expect(spent.status, spent.body).toBe(201);
      for (const replayAt of [issuer, spender]) {
        const again = await at(replayAt, () => wire.send('POST', url, body));
        expect(again.status, again.body).toBe(400);
        expect(problemOf(again).type).toBe('urn:ietf:params:acme:error:badNonce');
        // RFC 8555 §6.5: the refusal carries a fresh nonce to retry with.
        expect(String(again.headers['replay-nonce'])).toMatch(/^[A-Za-z0-9_-]{54}$/);
      }
    }
  });

  it('counts issuances by both workers once each in /metrics', { timeout: 60_000 }, async () => {
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    const created = await wire.newAccount();
    const account = created.account!;
    const finalizedBy: string[] = [];
    const [one, other] = [...(await workersAnswering(2))];
    for (let i = 0; i < 6; i++) {
      const names = [`m${i}.workers.test`];
      const order = await wire.readyOrder(account, names, responder);
      // Round-robin gives the next connection to the worker after the one that answered: aim at each in turn.
      const target = i % 2 ? one : other;
      while (workerOf(await wire.get('/health')) === target);
      const res = await wire.finalize(account, order.finalize, names);
      expect(res.status, res.body).toBe(200);
      finalizedBy.push(workerOf(res));
    }
    expect(new Set(finalizedBy).size, `finalize answered by ${finalizedBy.join(', ')}`).toBe(2);
    const scrape = parsePrometheusText((await wire.get('/metrics')).body);
    const issued = scrape.samples.filter((s) => s.name === 'certmint_certificates_issued_total').reduce((sum, s) => sum + s.value, 0);
    // The server's own TLS certificate is issued by the first worker at its start, through the same path.
    const inLedger = ledger((db) => db.prepare('SELECT COUNT(*) FROM certificates WHERE order_id IS NOT NULL').pluck().get() as number);
    expect(inLedger).toBe(6);
    expect(issued).toBe(6);
    // One build, however many workers: not summed.
    expect(scrape.samples.filter((s) => s.name === 'certmint_build_info').map((s) => s.value)).toEqual([1]);
  });

  it('exits 1 with the first worker\'s error, once, when the workers cannot start (the port is taken)', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(path.join(certmint.tempDir, 'taken-'));
    const child = spawn(process.execPath, [CERTMINT_MAIN, 'serve'], {
      env: { ...process.env, CERTMINT_SERVER_WORKERS: '2', CERTMINT_SERVER_LISTEN: `127.0.0.1:${new URL(certmint.directUrl).port}`, CERTMINT_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stdout + stderr).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^certmint: .*EADDRINUSE/)]);
    expect(stdout).not.toMatch(/exited unexpectedly|starting another/);
  });

  it.skipIf(!acmegoFound)('kill -9 of one worker under load: the primary starts another, the load goes on, every certificate received is in the ledger; SIGTERM drains a validation in flight', { timeout: 120_000 }, async () => {
    const received = path.join(certmint.tempDir, 'received.log');
    const count = () => (existsSync(received) ? readFileSync(received, 'utf8').split('\n').filter(Boolean).length : 0);
    let loadOutput = '';
    await responder?.stop();
    responder = undefined;
    load = spawn(
      acmego!,
      [
        '-mode', 'load', '-account-key', 'ec256', '-n', '1000000', '-c', '8', '-directory', certmint.directoryUrl, '-ca-bundle', certmint.rootFile,
        '-http01-listen', `127.0.0.1:${certmint.http01Port}`, '-received-log', received, '-flow-timeout', '20s', '-error-pause', '200ms',
        '-name-template', 'w%d-i%d.kill.test',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    load.stdout!.on('data', (c: Buffer) => (loadOutput = (loadOutput + c.toString()).slice(-4000)));
    load.stderr!.on('data', (c: Buffer) => (loadOutput = (loadOutput + c.toString()).slice(-4000)));
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 1200 && !done(); i++) await sleep(50);
      if (!done()) throw new Error(`${what}\n${loadOutput}\n${certmint.output()}`);
    };
    await until('the load issued nothing', () => count() >= 10);
    const before = workerPids();
    expect(before).toHaveLength(2);
    const newestBefore = Math.max(...[...(await workersAnswering(2))].map(Number));
    process.kill(before[0]!, 'SIGKILL');
    const atKill = count();
    await until('the primary did not log the dead worker', () => /exited unexpectedly \(signal SIGKILL\)/.test(certmint.output()));
    // A new worker (a higher cluster id) answers, and the load issues on.
    await workersAnswering(1, newestBefore);
    expect(workerPids()).toHaveLength(2);
    await until('the load stopped after the kill', () => count() >= atKill + 20);
    const loadDone = new Promise((resolve) => load!.once('exit', resolve));
    load.kill('SIGINT');
    await loadDone;
    load = undefined;

    // SIGTERM with a validation in flight: every worker drains (the validation records its
    // outcome, the request is answered), then the primary exits 0.
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    const { token, release, answered } = await validationInFlight(wire, responder, 'drain.workers.test');
    const server = certmint.process;
    const pids = workerPids();
    const exit = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    await sleep(300);
    release();
    expect((await answered).status).toBe(200);
    expect(await exit).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(ledger((db) => db.prepare('SELECT status FROM challenges WHERE token = ?').pluck().get(token))).toBe('valid');

    const serials = readFileSync(received, 'utf8').split('\n').filter(Boolean).map(normalized);
    ledger((db) => {
      const inLedger = new Set((db.prepare('SELECT serial FROM certificates').pluck().all() as string[]).map(normalized));
      console.log(`kill -9 of one of 2 workers: ${serials.length} certificates received (${atKill} at the kill), ${inLedger.size} in the ledger`);
      expect(serials.filter((s) => !inLedger.has(s)), 'certificates a client received that the ledger does not hold').toEqual([]);
      expect(new Set(serials).size).toBe(serials.length);
      // The replacement recovered the dead worker's work at its start; the rest drained.
      expect(db.prepare(`SELECT COUNT(*) FROM orders WHERE status = 'processing'`).pluck().get()).toBe(0);
      expect(db.prepare(`SELECT COUNT(*) FROM challenges WHERE status = 'processing'`).pluck().get()).toBe(0);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    });
    expect(certmint.output()).not.toMatch(/"level":60/);
  });
});

describe('a primary killed with kill -9', () => {
  let orphaned: CertmintProcess | undefined;
  let held: Http01Responder | undefined;
  afterAll(async () => {
    await held?.stop();
    await orphaned?.stop();
  });

  it('leaves its workers to drain what is in flight (a validation records its outcome, the request is answered), exit, and remove the nonce sockets', { timeout: 60_000 }, async () => {
    orphaned = await startCertmint({ config: { server: { workers: 2 } }, env: NO_LIMITS });
    const pids = workerPids(orphaned);
    expect(pids).toHaveLength(2);
    const socketDir = /(?:^|\0)CERTMINT_WORKER_SOCKETS=([^\0]*)/.exec(readFileSync(`/proc/${pids[0]}/environ`, 'latin1'))?.[1];
    expect(socketDir && existsSync(socketDir)).toBe(true);

    held = await startHttp01Responder('127.0.0.1', orphaned.http01Port);
    const { token, release, answered } = await validationInFlight(new AcmeWire(orphaned.baseUrl, orphaned.rootPem), held, 'orphan.workers.test');

    orphaned.process.kill('SIGKILL');
    await sleep(300);
    release();
    expect((await answered).status).toBe(200);
    const alive = () => pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    for (let i = 0; i < 200 && alive().length > 0; i++) await sleep(50);
    expect(alive()).toEqual([]);
    expect(existsSync(socketDir!)).toBe(false);
    expect(ledger((db) => db.prepare('SELECT status FROM challenges WHERE token = ?').pluck().get(token), orphaned)).toBe('valid');
  });
});
