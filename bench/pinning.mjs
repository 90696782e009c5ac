// Issue 27: a fair comparison on a small machine. In pinned mode the load client runs on its own
// CPU and each server on the rest (`taskset`), so a server's figures are what it does with the
// cores it was given instead of what is left after the client; and a server's CPU is summed over
// every thread and process it has (certmint's workers, step-ca's goroutines' threads), from /proc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

let clockTicksPerSecond;
/** /proc/<pid>/stat counts CPU time in clock ticks. */
export function ticksToMs(ticks) {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (ticks * 1000) / clockTicksPerSecond;
}

/**
 * The fields of a /proc/<pid>/stat line after "(comm)" (comm may hold spaces and parentheses):
 * index 0 is field 3 (state), so ppid is [1], utime [11], stime [12], cutime [13], cstime [14].
 */
export function statFields(stat) {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/** A CPU list as taskset and /proc write it ("0-2,5") expanded to numbers. */
export function parseCpuList(list) {
  return list
    .trim()
    .split(',')
    .filter((part) => part !== '')
    .flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number);
      if (!Number.isInteger(from) || !Number.isInteger(to) || to < from) throw new Error(`not a CPU list: "${list}"`);
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    });
}

/** Numbers back to the shortest list form: [0, 1, 2, 5] → "0-2,5". */
export function formatCpuList(cpus) {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const ranges = [];
  for (const cpu of sorted) {
    const last = ranges.at(-1);
    if (last && cpu === last[1] + 1) last[1] = cpu;
    else ranges.push([cpu, cpu]);
  }
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
}

/** The CPUs a process may run on, from /proc/<pid>/status. */
export function cpusAllowedList(pid = 'self') {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (!list) throw new Error(`/proc/${pid}/status has no Cpus_allowed_list`);
  return list;
}

function hasTaskset() {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The CPU split of a pinned run: the client on the first CPU this process may use, the servers on
 * the others. `null` (with the reason) when pinning cannot be fair: one CPU, or no taskset.
 */
export function cpuSplit({ allowed = parseCpuList(cpusAllowedList()), taskset = hasTaskset() } = {}) {
  if (!taskset) return { split: null, reason: 'taskset is not installed (util-linux)' };
  if (allowed.length < 2) return { split: null, reason: `only ${allowed.length} CPU available to this process` };
  const [client, ...servers] = allowed;
  return { split: { client: formatCpuList([client]), servers: formatCpuList(servers) }, reason: null };
}

/** Pinned by default when the machine has two cores or more and taskset exists (the issue's rule). */
export function defaultPinned({ parallelism = os.availableParallelism(), split = cpuSplit() } = {}) {
  return parallelism >= 2 && split.split !== null;
}

/** `command args` run on `cpus` (none: unchanged); taskset execs the command, so the pid is the command's. */
export function pinnedCommand(cpus, command, args) {
  return cpus ? { command: 'taskset', args: ['-c', cpus, command, ...args] } : { command, args };
}

/** Every process's parent from /proc/*\/stat (processes that exit while it is read are skipped). */
function parentsByPid() {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), Number(statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'))[1]));
    } catch {
      // gone since readdir
    }
  }
  return parents;
}

/** `pid` and all its living descendants. */
export function processTree(pid) {
  const children = new Map();
  for (const [child, parent] of parentsByPid()) {
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(child);
  }
  const tree = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift();
    tree.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return tree;
}

/**
 * CPU time (user + system, ms) of a process tree: every thread of `pid` and of each living
 * descendant, plus cutime/cstime of each, which hold the children they have already waited for
 * (a worker that exited and was reaped stays counted). A process not waited for yet is missed:
 * a server's tree is sampled while it runs, and its workers live as long as it does.
 */
export function treeCpuMs(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const f = statFields(readFileSync(`/proc/${p}/stat`, 'utf8'));
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch (err) {
      if (p === pid) throw err;
      // a descendant that exited between the walk and this read: its parent's cutime has it once reaped
    }
  }
  return ticksToMs(ticks);
}
