// Issue 27: what the VM adds when both vCPUs are busy. The same pure-crypto loop (ES256 verify,
// node:crypto, what a JWS check costs) timed in CPU µs per operation alone, then with a second
// process spinning on the other vCPU (as a second worker or the load client would), interleaved
// (alone, busy, alone, busy, …). Hold the bench lock:
//   flock /tmp/certmint-bench.lock node bench/vcpu-contention.mjs [--rounds 3] [--ops 4000]
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { setTimeout } from 'node:timers';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, ops: { type: 'string', default: '4000' } } });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const data = Buffer.alloc(512, 1);
const sig = createSign('SHA256').update(data).sign(privateKey);

function cpuUsPerVerify(ops) {
  const before = process.cpuUsage();
  for (let i = 0; i < ops; i++) createVerify('SHA256').update(data).verify(publicKey, sig);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / ops;
}

cpuUsPerVerify(500); // warm-up
const rows = { alone: [], busy: [] };
for (let r = 0; r < Number(opt.rounds); r++) {
  rows.alone.push(+cpuUsPerVerify(Number(opt.ops)).toFixed(1));
  const spinner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  rows.busy.push(+cpuUsPerVerify(Number(opt.ops)).toFixed(1));
  spinner.kill('SIGKILL');
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify(rows));
console.log(`ES256 verify, CPU µs per operation: alone median ${median(rows.alone)} [${rows.alone.join(', ')}], other vCPU busy median ${median(rows.busy)} [${rows.busy.join(', ')}]`);
