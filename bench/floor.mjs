// Issue 27: what Node itself spends on one ACME issuance's unavoidable work on this machine, with no
// framework, no routing, no validation and no logging: the floor under certmint's CPU per issuance,
// to set beside "≤ 0.5 × step-ca's". One issuance here is the 7 requests the Go client sends
// (new-order, authz, challenge, authz, order, finalize, certificate) over kept-alive HTTPS/1.1
// connections, each a flattened ES256 JWS checked against a cached key, each answered with a fresh
// HMAC nonce (and one nonce checked per request), 3 of them committing to SQLite in WAL mode (the
// order with 1 authorization, the challenge's result, the certificate) and the certificate's commit
// fdatasynced before the answer, as certmint does; finalize also checks a P-256 CSR signature and
// signs a certificate body with a P-256 CA key. The load client is Node too, on its own CPU.
//
//   flock /tmp/certmint-bench.lock node bench/floor.mjs [--c 32] [--n 2000] [--stages all|http|jws|db]
//
// --stages: http = TLS + HTTP only; jws = + JWS and nonces; db = + SQLite; all = + CSR and signing
// (default: each in turn). The server runs on every CPU but the first, the client on the first.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Agent, createServer, request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSplit, treeCpuMs } from './pinning.mjs';

const STEPS = ['new-order', 'authz', 'challenge', 'authz', 'order', 'finalize', 'cert'];
const b64u = (b) => Buffer.from(b).toString('base64url');

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
else await main();

async function serve(dir, stage) {
  const tls = JSON.parse(readFileSync(path.join(dir, 'keys.json'), 'utf8'));
  const accountKey = createPublicKey({ key: tls.accountJwk, format: 'jwk' });
  const csrKey = createPublicKey({ key: tls.csrJwk, format: 'jwk' });
  const caKey = createPrivateKey(tls.caKey);
  const csrTbs = Buffer.from(tls.csrTbs, 'base64');
  const csrSig = Buffer.from(tls.csrSig, 'base64');
  const nonceKey = randomBytes(32);
  const withJws = stage !== 'http';
  const withDb = stage === 'db' || stage === 'all';
  let db;
  let wal;
  if (withDb) {
    const { default: Database } = await import('better-sqlite3');
    db = new Database(path.join(dir, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, account TEXT, status TEXT, body TEXT); CREATE TABLE IF NOT EXISTS authz (id TEXT PRIMARY KEY, order_id TEXT, status TEXT, body TEXT); CREATE TABLE IF NOT EXISTS certs (serial TEXT PRIMARY KEY, order_id TEXT, der BLOB)');
    wal = await open(path.join(dir, 'floor.db-wal'), 'r+');
  }
  const ins = db && { order: db.prepare('INSERT INTO orders VALUES (?, ?, ?, ?)'), authz: db.prepare('INSERT INTO authz VALUES (?, ?, ?, ?)'), upd: db.prepare('UPDATE authz SET status = ? WHERE id = ?'), cert: db.prepare('INSERT INTO certs VALUES (?, ?, ?)'), get: db.prepare('SELECT * FROM orders WHERE id = ?') };
  const newOrder = db?.transaction((id) => {
    ins.order.run(id, 'acct', 'pending', '{"identifiers":[{"type":"dns","value":"a.example"}]}');
    ins.authz.run(`${id}-a`, id, 'pending', '{"identifier":{"type":"dns","value":"a.example"}}');
  });
  const issue = db?.transaction((id, der) => {
    ins.cert.run(randomBytes(16).toString('hex'), id, der);
    ins.order.run(`${id}-done`, 'acct', 'valid', '{}');
  });
  const answer = JSON.stringify({ status: 'valid', expires: new Date().toISOString(), identifiers: [{ type: 'dns', value: 'a.example' }], authorizations: ['https://x/a/1'], finalize: 'https://x/f/1', certificate: 'https://x/c/1' });
  let seq = 0;
  const server = createServer({ key: tls.serverKey, cert: tls.serverCert, minVersion: 'TLSv1.2', keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const step = req.url.slice(1).split('/')[0];
      const id = step === 'new-order' || step === 'finalize' ? String(++seq) : req.url.split('/')[2];
      if (withJws) {
        const jws = JSON.parse(Buffer.concat(chunks).toString());
        const input = Buffer.from(`${jws.protected}.${jws.payload}`);
        const protectedHeader = JSON.parse(Buffer.from(jws.protected, 'base64url').toString());
        if (!verify('sha256', input, { key: accountKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.signature, 'base64url'))) throw new Error('bad JWS');
        createHmac('sha256', nonceKey).update(protectedHeader.nonce).digest(); // the nonce's check
        if (jws.payload !== '') JSON.parse(Buffer.from(jws.payload, 'base64url').toString());
      }
      if (withDb) {
        if (step === 'new-order') newOrder(id);
        else if (step === 'challenge') ins.upd.run('valid', `${id}-a`);
        else ins.get.get(id);
      }
      if (step === 'finalize' && stage === 'all') {
        if (!verify('sha256', csrTbs, csrKey, csrSig)) throw new Error('bad CSR signature');
        const tbs = randomBytes(500);
        const der = Buffer.concat([tbs, sign('sha256', tbs, caKey)]);
        if (withDb) issue(id, der);
      } else if (step === 'finalize' && withDb) issue(id, randomBytes(600));
      if (step === 'finalize' && withDb) await wal.datasync();
      const nonce = withJws ? b64u(createHmac('sha256', nonceKey).update(randomBytes(16)).digest()) : 'n';
      res.writeHead(step === 'new-order' ? 201 : 200, { 'content-type': 'application/json', 'replay-nonce': nonce, link: '<https://x/directory>;rel="index"' });
      res.end(answer);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

async function main() {
  const { values: opt } = parseArgs({ options: { c: { type: 'string', default: '32' }, n: { type: 'string', default: '2000' }, stages: { type: 'string', default: 'http,jws,db,all' } } });
  const split = cpuSplit().split;
  if (!split) throw new Error('floor.mjs wants ≥ 2 CPUs and taskset (server and client apart)');
  execFileSync('taskset', ['-cp', String(split.client), String(process.pid)], { stdio: 'ignore' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-floor-'));
  try {
    const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(path.join(dir, 'server.key'), server.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const cert = execFileSync('openssl', ['req', '-x509', '-new', '-key', path.join(dir, 'server.key'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1']).toString();
    const account = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csrTbs = randomBytes(300);
    writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ csrTbs: csrTbs.toString('base64'), csrSig: sign('sha256', csrTbs, csr.privateKey).toString('base64'), serverKey: server.privateKey.export({ type: 'pkcs8', format: 'pem' }), serverCert: cert, accountJwk: account.publicKey.export({ format: 'jwk' }), csrJwk: csr.publicKey.export({ format: 'jwk' }), caKey: ca.privateKey.export({ type: 'pkcs8', format: 'pem' }) }));
    const rows = [];
    for (const stage of opt.stages.split(',')) rows.push(await runStage(dir, stage, split, Number(opt.c), Number(opt.n), account.privateKey));
    console.log(JSON.stringify({ c: Number(opt.c), n: Number(opt.n), server: `CPU ${split.servers}`, client: `CPU ${split.client}`, rows }, null, 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runStage(dir, stage, split, c, n, accountKey) {
  rmSync(path.join(dir, 'floor.db'), { force: true });
  rmSync(path.join(dir, 'floor.db-wal'), { force: true });
  const child = spawn('taskset', ['-c', String(split.servers), process.execPath, import.meta.filename, '--serve', dir, stage], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`floor server exited ${code}`)));
  });
  const agent = new Agent({ keepAlive: true, maxSockets: c, rejectUnauthorized: false });
  const body = (step, i) => {
    const protectedB64 = b64u(JSON.stringify({ alg: 'ES256', kid: 'https://x/acct/1', nonce: b64u(randomBytes(16)), url: `https://127.0.0.1:${port}/${step}/${i}` }));
    const payload = step === 'finalize' ? b64u(JSON.stringify({ csr: b64u(randomBytes(300)) })) : step === 'challenge' || step === 'new-order' ? b64u('{"identifiers":[{"type":"dns","value":"a.example"}]}') : '';
    const sig = sign('sha256', Buffer.from(`${protectedB64}.${payload}`), { key: accountKey, dsaEncoding: 'ieee-p1363' });
    return JSON.stringify({ protected: protectedB64, payload, signature: b64u(sig) });
  };
  // Bodies signed before the clock starts: the client's own signing is not what is measured.
  const bodies = Array.from({ length: 64 }, (_, i) => STEPS.map((s) => body(s, i)));
  const post = (step, i, data) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/${step}/${i}`, agent, headers: { 'content-type': 'application/jose+json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(data);
    });
  let next = 0;
  const issuance = async (i) => {
    for (let s = 0; s < STEPS.length; s++) await post(STEPS[s], i, bodies[i % 64][s]);
  };
  const worker = async () => {
    while (next < n) await issuance(next++);
  };
  for (let i = 0; i < 100; i++) await issuance(i); // warm-up
  next = 0;
  const cpu0 = treeCpuMs(child.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = treeCpuMs(child.pid) - cpu0;
  agent.destroy();
  child.kill();
  const row = { stage, perSec: +(n / seconds).toFixed(1), serverCpuMsPerIssuance: +(cpuMs / n).toFixed(2) };
  console.error(`floor ${stage}: ${row.perSec}/s, server CPU ${row.serverCpuMsPerIssuance} ms per issuance`);
  return row;
}
