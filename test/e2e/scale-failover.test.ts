import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGoClient } from '../interop/go-client.js';
import { startCertmintPair, type CertmintPair } from '../support/certmint-pair.js';
import { requireGoClientOrSkip } from '../support/clients.js';
import { haproxyAvailable } from '../support/haproxy.js';
import { postgresAvailable } from '../support/postgres.js';

// kill -9 of one of two instances behind haproxy in the middle of an issuance load by the Go
// client (x/crypto/acme, cert-manager's library): haproxy's health checks take the dead one out,
// the load finishes on the other, and every certificate a client received is in the shared
// ledger, none twice. Flows that were inside the dead instance (a validation it was running, an
// order it was signing) fail; x/crypto itself retries the requests haproxy answered 502/503.

const WORKERS = 8;
const FLOWS = 160;
const KILL_AFTER_RECEIVED = FLOWS / 4;

const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);
const available = postgresAvailable() && haproxyAvailable() && acmegoFound;

interface LoadResult {
  readonly mode: 'load';
  readonly n: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly first_error?: string;
}

let pair: CertmintPair | undefined;
let load: ChildProcess | undefined;
afterAll(async () => {
  load?.kill('SIGKILL');
  await pair?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Serials as Go prints big.Int bytes: no leading zero octets. */
const normalized = (hex: string) => hex.toLowerCase().replace(/^(00)+/, '');
const receivedCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describe.skipIf(!available)('failover: kill -9 of one instance behind haproxy under load', () => {
  it(`finishes a ${FLOWS}-flow load of ${WORKERS} workers on the other instance; every certificate received is in the ledger once`, { timeout: 240_000 }, async () => {
    pair = await startCertmintPair();
    const received = path.join(pair.tempDir, 'received.log');
    let stdout = '';
    let stderr = '';
    const started = performance.now();
    load = spawn(
      acmego!,
      [
        '-mode', 'load', '-account-key', 'ec256', '-n', String(FLOWS), '-c', String(WORKERS),
        '-directory', pair.directoryUrl, '-ca-bundle', pair.rootFile, '-http01-listen', `127.0.0.1:${pair.http01Port}`,
        '-name-template', 'w%d-i%d.failover.test', '-received-log', received, '-flow-timeout', '15s', '-error-pause', '200ms',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    load.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    load.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
    const loadDone = new Promise<number | null>((resolve) => load!.once('exit', resolve));

    // Mid-load: a quarter of the certificates received (bounded: the load may not get there).
    const deadline = Date.now() + 60_000;
    while (receivedCount(received) < KILL_AFTER_RECEIVED && Date.now() < deadline && load.exitCode === null) await sleep(50);
    expect(receivedCount(received), `the load did not get going:\n${stderr}\n${pair.output()}`).toBeGreaterThanOrEqual(KILL_AFTER_RECEIVED);
    const servedBefore = await pair.requestsServedBy(1);

    // The instance that created the CA goes: nothing about it is special once both run.
    const victim = pair.instances[0];
    const gone = new Promise((resolve) => victim.process.once('exit', resolve));
    victim.process.kill('SIGKILL');
    const killedAt = performance.now();
    await gone;
    const atKill = receivedCount(received);
    await pair.haproxy.waitFor(['certmint1'], 'DOWN', 10_000);
    const detectedMs = performance.now() - killedAt;

    const exitCode = await Promise.race([loadDone, sleep(150_000).then(() => 'timeout' as const)]);
    const loadMs = performance.now() - started;
    expect(exitCode, `acmego load did not finish:\n${stderr}`).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as LoadResult;
    const servedAfter = await pair.requestsServedBy(1);
    const survivorServed = Object.entries(servedAfter).reduce((sum, [route, n]) => sum + n - (servedBefore[route] ?? 0), 0);

    const serials = readFileSync(received, 'utf8').split('\n').filter(Boolean).map(normalized);
    const inLedger = new Set((await pair.query<{ serial: string }>('SELECT serial FROM certificates')).map((r) => normalized(r.serial)));
    const missing = serials.filter((s) => !inLedger.has(s));
    // What haproxy answered itself or passed on as failed (x/crypto retries 5xx answers).
    const failedAnswers = Object.entries(pair.haproxy.answers()).filter(([key]) => !/ [23]\d\d$/.test(key));
    const { retries, redispatches } = await pair.haproxy.retries();
    const [left] = await pair.query<{ orders: string; challenges: string }>(
      `SELECT (SELECT COUNT(*) FROM orders WHERE status = 'processing') AS orders, (SELECT COUNT(*) FROM challenges WHERE status = 'processing') AS challenges`,
    );
    console.log(
      `failover: ${result.ok} of ${FLOWS} flows ok, ${result.errors} failed (first: ${result.first_error ?? 'none'}); ` +
        `${atKill} certificates received before the kill, ${serials.length} in all; haproxy marked the dead instance DOWN ` +
        `${Math.round(detectedMs)} ms after the kill; the survivor answered ${survivorServed} requests after it; ` +
        `load ${Math.round(loadMs)} ms; haproxy sent ${retries} requests again (${redispatches} to the other instance); ` +
        `its answers other than 2xx/3xx: ${JSON.stringify(Object.fromEntries(failedAnswers))}; work the dead instance left processing: ${left!.orders} orders, ${left!.challenges} challenges` +
        (pair.errors().length > 0 ? `\nerrors the instances logged:\n${pair.errors().join('\n')}` : ''),
    );

    expect(result).toMatchObject({ mode: 'load', n: FLOWS });
    expect(result.ok + result.errors).toBe(FLOWS);
    // At most the flows the dead instance held when it died (a challenge it was validating, an
    // order it was signing): one per worker. Requests it never answered haproxy sent to the other.
    expect(result.errors, result.first_error).toBeLessThanOrEqual(WORKERS);
    expect(serials.length).toBe(result.ok);
    expect(serials.length).toBeGreaterThan(atKill);
    expect(missing, 'certificates a client received that the ledger does not hold').toEqual([]);
    expect(new Set(serials).size).toBe(serials.length);
    expect(survivorServed).toBeGreaterThan(0);
    // The survivor still runs, and haproxy still sends to it.
    expect(pair.instances[1].process.exitCode).toBeNull();
    expect(await pair.haproxy.serverStates()).toMatchObject({ certmint1: 'DOWN', certmint2: 'UP' });
    expect(pair.instances[1].output()).not.toMatch(/"level":60/);
  });
});
