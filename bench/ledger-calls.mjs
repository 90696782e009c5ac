#!/usr/bin/env node
// Issue 27, ledger CPU: the SQLite ledger's calls of one issuance alone, without HTTP, JWS or
// signing, so that builds can be told apart by microseconds the full server cannot resolve.
// Each run: a fresh ledger file in a temporary directory, one account, a warm-up, then N
// issuances driven through SqliteLedger's methods in the order the RA calls them for one dns
// identifier with three challenge types (new-order, two authorization reads, the challenge,
// the order read, finalize, the certificate). Prints the process's CPU (user + system) and wall
// time per issuance and each call's median wall time.
// Given several --dist, runs them interleaved (A, B, A, B, ...), each run in a child process.
//
//   flock /tmp/certmint-bench.lock node bench/ledger-calls.mjs --dist /work/main/dist --dist dist [-n 2000] [--pairs 3]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const id = () => randomBytes(16).toString('base64url').replace(/^[-_]/, 'A');

async function runOne(dist, n, warmup) {
  const { SqliteLedger } = await import(pathToFileURL(path.resolve(dist, 'ledger/sqlite/ledger.js')).href);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-ledger-calls-'));
  const ledger = new SqliteLedger({ file: path.join(dir, 'ledger.db') });
  const chainPem = `-----BEGIN CERTIFICATE-----\n${randomBytes(900).toString('base64')}\n-----END CERTIFICATE-----\n`;
  const der = randomBytes(700);
  const accountId = id();
  let now = Date.now();
  await ledger.createAccount({ id: accountId, keyThumbprint: id(), jwk: { kty: 'EC', crv: 'P-256', x: id(), y: id() }, contact: [], termsOfServiceAgreed: true, createdAt: new Date(now) });
  const calls = new Map();
  const timed = async (name, f) => {
    const t = process.hrtime.bigint();
    const r = await f();
    const list = calls.get(name) ?? calls.set(name, []).get(name);
    list.push(Number(process.hrtime.bigint() - t) / 1000);
    return r;
  };
  const issuance = async (i) => {
    now += 1000;
    const at = new Date(now);
    const value = `host-${i}-${id().slice(0, 6).toLowerCase()}.example.internal`;
    const identifiers = [{ type: 'dns', value }];
    await timed('getAccount', () => ledger.getAccount(accountId));
    await timed('findReusableAuthorizations', () => ledger.findReusableAuthorizations(accountId, identifiers, at));
    const authzId = id();
    const challenges = ['http-01', 'dns-01', 'tls-alpn-01'].map((type) => ({ id: id(), authorizationId: authzId, type, token: id() + id(), status: 'pending', validatedAt: undefined, error: undefined }));
    const authz = { id: authzId, accountId, identifier: identifiers[0], wildcard: false, expires: new Date(now + 7 * 864e5), createdAt: at, challenges };
    const order = { id: id(), accountId, identifiers, notBefore: undefined, notAfter: undefined, expires: new Date(now + 864e5), createdAt: at, authorizationIds: [authzId] };
    await timed('createOrder', () => ledger.createOrder(order, [authz]));
    for (let k = 0; k < 2; k++) {
      await timed('getAccount', () => ledger.getAccount(accountId));
      await timed('getAuthorization', () => ledger.getAuthorization(authzId));
    }
    await timed('getAccount', () => ledger.getAccount(accountId));
    await timed('getAuthorizationOfChallenge', () => ledger.getAuthorizationOfChallenge(challenges[0].id));
    await timed('beginChallenge', () => ledger.beginChallenge(challenges[0].id));
    await timed('completeChallenge', () => ledger.completeChallenge({ challengeId: challenges[0].id, authorizationId: authzId, challengeStatus: 'valid', authorizationStatus: 'valid', validatedAt: at, authorizationExpires: new Date(now + 30 * 864e5), error: undefined }));
    for (let k = 0; k < 2; k++) {
      await timed('getAccount', () => ledger.getAccount(accountId));
      await timed('getOrder', () => ledger.getOrder(order.id));
      await timed('getAuthorizations', () => ledger.getAuthorizations(order.authorizationIds));
    }
    const keyHash = id();
    await timed('isKeyBlocked', () => ledger.isKeyBlocked(keyHash));
    await timed('beginFinalize', () => ledger.beginFinalize(order.id));
    const serial = randomBytes(16).toString('hex');
    const certificate = { serial, accountId, orderId: order.id, der, chainPem, identifiers, commonName: value, keyHash, notBefore: at, notAfter: new Date(now + 90 * 864e5), createdAt: at, authorizedBy: [{ identifier: value, method: 'http-01' }] };
    const outcome = await timed('completeFinalize', () => ledger.completeFinalize(order.id, certificate, at));
    if (outcome.outcome !== 'issued') throw new Error(`finalize: ${JSON.stringify(outcome)}`);
    await timed('getAccount', () => ledger.getAccount(accountId));
    await timed('getCertificate', () => ledger.getCertificate(serial));
  };
  for (let i = 0; i < warmup; i++) await issuance(-i - 1);
  calls.clear();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await issuance(i);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const cpu = process.cpuUsage(cpu0);
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    cpuUs: (cpu.user + cpu.system) / n,
    userUs: cpu.user / n,
    systemUs: cpu.system / n,
    wallUs,
    medians: Object.fromEntries([...calls].map(([name, xs]) => [name, +median(xs).toFixed(1)])),
  };
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      dist: { type: 'string', multiple: true, default: ['dist'] },
      n: { type: 'string', short: 'n', default: '2000' },
      warmup: { type: 'string', default: '300' },
      pairs: { type: 'string', default: '3' },
      child: { type: 'boolean', default: false },
    },
  });
  if (opt.child) {
    console.log(JSON.stringify(await runOne(opt.dist[0], Number(opt.n), Number(opt.warmup))));
    return;
  }
  const results = opt.dist.map(() => []);
  for (let p = 0; p < Number(opt.pairs); p++) {
    opt.dist.forEach((dist, i) => {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--dist', dist, '-n', opt.n, '--warmup', opt.warmup], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${dist}: ${r.stderr}`);
      const res = JSON.parse(r.stdout);
      results[i].push(res);
      console.log(`run ${p + 1} ${dist}: CPU ${res.cpuUs.toFixed(1)} µs/issuance (user ${res.userUs.toFixed(1)}, sys ${res.systemUs.toFixed(1)}), wall ${res.wallUs.toFixed(1)}`);
    });
  }
  const names = Object.keys(results[0][0].medians);
  console.log(`\nmedian µs per call, by run (${opt.dist.join(' | ')}):`);
  for (const name of names) {
    console.log(`  ${name.padEnd(28)} ${results.map((rs) => rs.map((r) => r.medians[name]).join(' ')).join(' | ')}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
