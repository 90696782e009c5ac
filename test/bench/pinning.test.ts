import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// bench/pinning.mjs: the pieces of the pinned benchmark (issue 27) that can go wrong without a
// load: the CPU split, the taskset command, and the CPU sum over a server's process tree.
interface Pinning {
  parseCpuList(list: string): number[];
  formatCpuList(cpus: number[]): string;
  cpuSplit(o: { allowed: number[]; taskset: boolean }): { split: { client: string; servers: string } | null; reason: string | null };
  defaultPinned(o: { parallelism: number; split: { split: unknown } }): boolean;
  pinnedCommand(cpus: string | undefined, command: string, args: string[]): { command: string; args: string[] };
  processTree(pid: number): number[];
  treeCpuMs(pid: number): number;
  statFields(stat: string): string[];
  ticksToMs(ticks: number): number;
}
const repo = path.resolve(import.meta.dirname, '../..');
// A computed specifier: the type checker does not read bench/*.mjs (see dist-imports.test.ts).
const pinning = (await import(pathToFileURL(path.join(repo, 'bench', 'pinning.mjs')).href)) as Pinning;
const run = promisify(execFile);

/** CPU ms of one process alone (its threads, not its children), as run.mjs's cpuMsOf reads it. */
async function ownCpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const f = pinning.statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
  return pinning.ticksToMs(Number(f[11]) + Number(f[12]));
}

describe('bench/pinning.mjs', () => {
  it('reads and writes CPU lists as taskset and /proc do', () => {
    expect(pinning.parseCpuList('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(pinning.parseCpuList('3\n')).toEqual([3]);
    expect(pinning.formatCpuList([5, 0, 1, 2, 8, 7])).toBe('0-2,5,7-8');
    expect(() => pinning.parseCpuList('2-1')).toThrow(/not a CPU list/);
  });

  it('gives the client the first CPU and the servers the rest, and refuses to pin one CPU or without taskset', () => {
    expect(pinning.cpuSplit({ allowed: [0, 1], taskset: true })).toEqual({ split: { client: '0', servers: '1' }, reason: null });
    expect(pinning.cpuSplit({ allowed: [2, 3, 4, 5], taskset: true }).split).toEqual({ client: '2', servers: '3-5' });
    expect(pinning.cpuSplit({ allowed: [0], taskset: true })).toEqual({ split: null, reason: 'only 1 CPU available to this process' });
    expect(pinning.cpuSplit({ allowed: [0, 1], taskset: false }).reason).toMatch(/taskset is not installed/);
    expect(pinning.defaultPinned({ parallelism: 2, split: { split: { client: '0', servers: '1' } } })).toBe(true);
    expect(pinning.defaultPinned({ parallelism: 1, split: { split: null } })).toBe(false);
  });

  it('runs a command under taskset -c that the kernel then confines to that CPU', async () => {
    expect(pinning.pinnedCommand(undefined, 'acmego', ['-c', '32'])).toEqual({ command: 'acmego', args: ['-c', '32'] });
    const cmd = pinning.pinnedCommand('0', 'sh', ['-c', 'grep Cpus_allowed_list /proc/self/status']);
    expect(cmd).toEqual({ command: 'taskset', args: ['-c', '0', 'sh', '-c', 'grep Cpus_allowed_list /proc/self/status'] });
    const { stdout } = await run(cmd.command, cmd.args);
    expect(stdout).toMatch(/^Cpus_allowed_list:\s+0$/m);
  });

  it('sums the CPU of a process and all its descendants, and keeps the children it has reaped', async () => {
    // A parent that starts two children, each burning ~150 ms of CPU and then waiting; on "exit"
    // on its stdin it ends them, waits for both exits (Node reaps them) and says "reaped".
    const burn = 'const end = process.cpuUsage().user + 150000; while (process.cpuUsage().user < end); console.log("busy"); setInterval(() => {}, 1000);';
    const parentScript = `
      const { spawn } = require('node:child_process');
      const kids = [0, 1].map(() => spawn(process.execPath, ['-e', ${JSON.stringify(burn)}], { stdio: ['ignore', 'pipe', 'inherit'] }));
      Promise.all(kids.map((k) => new Promise((r) => k.stdout.once('data', r)))).then(() => console.log('ready ' + kids.map((k) => k.pid).join(' ')));
      process.stdin.once('data', () => {
        Promise.all(kids.map((k) => new Promise((r) => { k.once('exit', r); k.kill(); }))).then(() => console.log('reaped'));
      });`;
    const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: parent.stdout! })[Symbol.asyncIterator]();
    try {
      const ready = (await lines.next()).value as string;
      const kids = ready.split(' ').slice(1).map(Number);
      expect(pinning.processTree(parent.pid!).sort()).toEqual([parent.pid!, ...kids].sort());
      const own = await ownCpuMs(parent.pid!);
      const kidsMs = (await Promise.all(kids.map(ownCpuMs))).reduce((a, b) => a + b, 0);
      expect(kidsMs).toBeGreaterThanOrEqual(250);
      const whileRunning = pinning.treeCpuMs(parent.pid!);
      expect(whileRunning).toBeGreaterThanOrEqual(own + kidsMs);

      parent.stdin!.write('exit\n');
      expect((await lines.next()).value).toBe('reaped');
      expect(pinning.processTree(parent.pid!)).toEqual([parent.pid!]);
      // The exited children are in the parent's cutime/cstime now.
      expect(pinning.treeCpuMs(parent.pid!)).toBeGreaterThanOrEqual(whileRunning);
      expect(pinning.treeCpuMs(parent.pid!) - (await ownCpuMs(parent.pid!))).toBeGreaterThanOrEqual(kidsMs);
    } finally {
      parent.kill();
      await once(parent, 'exit');
    }
  });
});
