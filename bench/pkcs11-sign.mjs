// Signatures per second through certmint's PKCS#11 path (dist/ca/pkcs11: pooled sessions, async
// C_Sign, ECDSA hashed in Node) on a SoftHSM token of its own in a temporary directory.
// Usage: npm run build && node bench/pkcs11-sign.mjs [--seconds 3]
// Issue 23 measured SoftHSM2 2.6.1 at 1,200–2,700 ECDSA P-256 signatures/s through the async
// calls (one to four sessions) and 650–970 RSA-2048/s; this is the same measurement through
// certmint's own code, for the HSM row of docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const { values: opt } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const seconds = Number(opt.seconds);

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-bench-softhsm-'));
mkdirSync(path.join(dir, 'tokens'));
writeFileSync(path.join(dir, 'softhsm2.conf'), `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
process.env.SOFTHSM2_CONF = path.join(dir, 'softhsm2.conf');
const pin = randomBytes(8).toString('hex');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', pin, '--so-pin', `${pin}so`], { stdio: 'ignore' });

const { openPkcs11Token } = await import('../dist/ca/pkcs11/index.js');
const token = await openPkcs11Token({ module: MODULE, token: 'bench', pin, sessions: 4 });

async function rate(key, inFlight) {
  const data = randomBytes(200);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await key.sign(data);
        done += 1;
      }
    }),
  );
  return Math.round(done / ((performance.now() - start) / 1000));
}

try {
  const rows = [];
  for (const algorithm of ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048']) {
    const key = await token.generateKey(`pkcs11:object=bench-${algorithm}`, algorithm);
    for (const inFlight of [1, 4]) rows.push({ algorithm, inFlight, perSecond: await rate(key, inFlight) });
  }
  console.log('| key | in flight | signatures/s |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.algorithm} | ${r.inFlight} | ${r.perSecond} |`);
} finally {
  await token.close();
  rmSync(dir, { recursive: true, force: true });
}
