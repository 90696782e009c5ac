// Issue 27, the HTTP layer alone: the server's CPU per request for requests that do little else, on
// C kept-alive HTTPS/1.1 connections (no handshakes in the timed part; an issuance run's CPU figure
// moves by ~0.5 ms per new connection per issuance), with
// the client (Node) on the first CPU and certmint on the others. Builds A/B, interleaved:
//
//   flock /tmp/certmint-bench.lock node bench/http-layer.mjs --builds main=/work/main,this=. \
//     [--rounds 3] [-n 20000] [-c 32] [--kind order|nonce]
//
// order: POST-as-GET of one order, a fresh ES256 JWS each (signed by the client) with the nonce of
// the connection's previous answer: routing, body parsing, the JWS preHandler, one ledger read,
// serialization and the response headers (Location, Link, Replay-Nonce). nonce: GET newNonce (204;
// not HEAD, so that builds from before HEAD's Content-Length: 0 compare: Node's client reused no
// connection after a HEAD answer without it).
import { Buffer } from 'node:buffer';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cleanup, cpuMsOf, startCertmint, writeCertmintConfig } from './processes.mjs';
import { cpuSplit } from './pinning.mjs';

const { values: opt } = parseArgs({
  options: {
    builds: { type: 'string', default: `this=${process.cwd()}` },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', short: 'n', default: '20000' },
    c: { type: 'string', short: 'c', default: '32' },
    kind: { type: 'string', default: 'order' },
    // A directory: each server runs tsc's unbundled entry under --cpu-prof and writes its profile
    // there (bench/profile-functions.mjs reads it with --window).
    profile: { type: 'string' },
  },
});
const builds = opt.builds.split(',').map((b) => {
  const [label, repo] = b.split('=');
  return { label, main: path.join(path.resolve(repo), 'dist', 'cli', opt.profile ? 'main-modules.js' : 'main.js') };
});
const n = Number(opt.n);
const c = Number(opt.c);
const split = cpuSplit().split;
const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function call(agent, ca, url, { method = 'POST', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, ca, headers: body ? { 'content-type': 'application/jose+json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** A client of one account: flattened ES256 JWS (RFC 8555 §6.2). */
function account() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  let kid;
  return {
    set kid(v) { kid = v; },
    jws(url, nonce, payload) {
      const protectedB64 = b64u({ alg: 'ES256', nonce, url, ...(kid ? { kid } : { jwk: { kty, crv, x, y } }) });
      const payloadB64 = payload === undefined ? '' : b64u(payload);
      const signature = sign('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return JSON.stringify({ protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') });
    },
  };
}

async function oneRun(dir, build) {
  const runDir = mkdtempSync(path.join(dir, `${build.label}-`));
  const dataDir = path.join(runDir, 'data');
  const configFile = await writeCertmintConfig(runDir, { dataDir, dnsAddress: '127.0.0.1:1', http01Port: 1 });
  const profileDir = opt.profile && path.join(path.resolve(opt.profile), `${build.label}-${path.basename(runDir)}`);
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = await startCertmint(configFile, { logFile: path.join(runDir, 'serve.log'), main: build.main, cpus: split?.servers, nodeArgs });
  const ca = readFileSync(path.join(dataDir, 'ca', 'root.pem'));
  const agent = new Agent({ keepAlive: true, maxSockets: c });
  let profileWindow;
  try {
    const dir = JSON.parse((await call(agent, ca, server.directoryUrl, { method: 'GET' })).body);
    const acct = account();
    let nonce = (await call(agent, ca, dir.newNonce, { method: 'HEAD' })).headers['replay-nonce'];
    const created = await call(agent, ca, dir.newAccount, { body: acct.jws(dir.newAccount, nonce, { termsOfServiceAgreed: true }) });
    acct.kid = created.headers.location;
    nonce = created.headers['replay-nonce'];
    const order = await call(agent, ca, dir.newOrder, { body: acct.jws(dir.newOrder, nonce, { identifiers: [{ type: 'dns', value: 'bench.example' }] }) });
    if (order.status !== 201) throw new Error(`newOrder: ${order.status} ${order.body}`);
    const orderUrl = order.headers.location;
    const one = opt.kind === 'nonce' ? async () => call(agent, ca, dir.newNonce, { method: 'GET' }) : null;
    const loop = async (count) => {
      let own = (await call(agent, ca, dir.newNonce, { method: 'GET' })).headers['replay-nonce'];
      for (let i = 0; i < count; i++) {
        const r = one ? await one() : await call(agent, ca, orderUrl, { body: acct.jws(orderUrl, own, undefined) });
        if (r.status !== (one ? 204 : 200)) throw new Error(`${r.status} ${r.body}`);
        own = r.headers['replay-nonce'];
      }
    };
    const load = async (total) => {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: c }, (_, i) => loop(Math.floor(total / c) + (i < total % c ? 1 : 0))));
      return performance.now() - t0;
    };
    await load(Math.min(n, 3000));
    const before = cpuMsOf(server.pid);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const ms = await load(n);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const cpu = cpuMsOf(server.pid) - before;
    if (profileDir) profileWindow = { fromUs, toUs };
    return { build: build.label, kind: opt.kind, perSec: Math.round(n / (ms / 1000)), cpuUsPerRequest: +((cpu / n) * 1000).toFixed(1) };
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(runDir, { recursive: true, force: true });
    if (profileWindow) {
      // The main thread's profile, in the shape bench/profile-functions.mjs reads ("per issuance" is per request here).
      await server.exited;
      const main = readdirSync(profileDir).find((f) => f.includes(`.${server.pid}.0.`));
      writeFileSync(`${profileDir}.json`, JSON.stringify({ attribution: { issuances: n }, cpuprofile: path.join(profileDir, main), window: profileWindow }));
      console.error(`profile: node bench/profile-functions.mjs ${profileDir}.json`);
    }
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-http-layer-'));
try {
  const rows = [];
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const build of builds) {
      const row = await oneRun(dir, build);
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  for (const build of builds) {
    const rs = rows.filter((r) => r.build === build.label).map((r) => r.cpuUsPerRequest);
    const sorted = [...rs].sort((a, b) => a - b);
    console.log(`${build.label} ${opt.kind}: server CPU µs per request, median ${sorted[Math.floor(sorted.length / 2)]} [${rs.join(', ')}]`);
  }
} finally {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
