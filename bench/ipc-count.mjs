// Preload of bench/workers-ab.mjs --ipc (node --import): counts the IPC messages this process
// sends (a worker's process.send, the primary's ChildProcess#send), by certmint type or node:cluster
// command, with their JSON bytes (what the channel's default serialization writes), and writes them
// to $BENCH_IPC_DIR/<pid>.json at exit.
import { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.BENCH_IPC_DIR;
if (dir) {
  const counts = {};
  const count = (m) => {
    const kind = typeof m === 'object' && m !== null ? (m.type ?? (m.cmd === 'NODE_CLUSTER' ? `cluster:${m.act ?? 'ack'}` : m.cmd)) : typeof m;
    const c = (counts[kind] ??= { messages: 0, bytes: 0 });
    c.messages++;
    c.bytes += JSON.stringify(m).length + 1;
  };
  const wrap = (send) =>
    function (m, ...rest) {
      count(m);
      return send.call(this, m, ...rest);
    };
  ChildProcess.prototype.send = wrap(ChildProcess.prototype.send);
  if (process.send) process.send = wrap(process.send);
  process.on('exit', () => writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(counts)));
}
