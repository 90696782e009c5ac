// Issue 27: the runs of the fair comparison that bench/run.mjs starts: certmint's workers side by
// side on the unpinned loads, the pinned loads of certmint and step-ca (client on its CPU, each
// server on the rest), and both servers' start to serving on an existing data dir. `ctx` is
// run.mjs's: { settings, log, step, runLoads, freshCertmint, dns }.
import { REPO, startCertmint, startStepCa } from './processes.mjs';
import { treeCpuMs } from './pinning.mjs';
import { SCALING_WORKERS, scalingRows, workersSupported } from './fair.mjs';
import path from 'node:path';

/** Median of a list of numbers. */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** certmint started `startRuns` times on the data dir a load left (spawn → serving), on `cpus` if given. */
export async function certmintStarts({ settings, log }, server, cpus) {
  const runsMs = [];
  const cpuRunsMs = [];
  for (let i = 0; i < settings.startRuns; i++) {
    const again = await startCertmint(server.configFile, { logFile: path.join(server.dir, `start-${i}.log`), cpus });
    runsMs.push(Math.round(again.startMs));
    cpuRunsMs.push(again.startCpuMs);
    await again.stop();
  }
  log(`certmint start to serving on its existing data dir: ${runsMs.join(', ')} ms (its CPU: ${cpuRunsMs.join(', ')} ms)`);
  return { medianMs: median(runsMs), runsMs, cpuMedianMs: median(cpuRunsMs), cpuRunsMs };
}

/** step-ca restarted `startRuns` times on the database its loads left (its script times spawn → directory answering). */
export async function stepCaStarts({ settings, log }, cpus) {
  const runsMs = [];
  for (let i = 0; i < settings.startRuns; i++) {
    const peer = await startStepCa({ cpus, freshDb: false });
    runsMs.push(peer.readyMs);
    peer.stop();
  }
  log(`step-ca start to serving on its existing database: ${runsMs.join(', ')} ms`);
  return runsMs.every((ms) => typeof ms === 'number') ? { medianMs: median(runsMs), runsMs } : null;
}

/** certmint with server.workers 1, 2 and auto on the unpinned loads, or why not. */
export async function scalingLoads({ log, step, runLoads, freshCertmint, dns, settings }) {
  if (!workersSupported(REPO)) {
    log('scaling rows: workers: not supported by this build');
    return { supported: false, note: 'workers: not supported by this build (dist/config/schema.js has no server.workers)', rows: [] };
  }
  const byWorkers = new Map();
  for (const workers of SCALING_WORKERS) {
    await step(`certmint workers=${workers} loads`, async () => {
      log(`certmint with server.workers ${workers}: fresh data dir`);
      const server = await freshCertmint(`workers-${workers}`, dns, { workers });
      try {
        byWorkers.set(workers, await runLoads(`certmint-workers-${workers}`, server));
      } finally {
        await server.stop();
      }
    });
  }
  return { supported: true, note: null, rows: scalingRows(settings.loads, byWorkers) };
}

/**
 * The pinned loads: certmint (fresh data dir) and step-ca (fresh database) on the servers' CPUs,
 * the client on its own; the affinity each actually got is read back from /proc into
 * `fair.pinning.verified`. Without unpinned loads, the start-up runs happen here (pinned).
 */
export async function pinnedRuns(ctx, { acmego, fair, pinnedLoads, startup }) {
  const { settings, log, step, runLoads, freshCertmint, dns } = ctx;
  const { client, servers } = settings.cpuSplit;
  if (dns) {
    await step('certmint pinned loads', async () => {
      log(`certmint pinned: fresh data dir, server on CPU ${servers}, client on CPU ${client}`);
      const server = await freshCertmint('pinned', dns, { cpus: servers });
      fair.pinning.verified.certmint = server.cpusAllowed;
      try {
        for (const [c, r] of await runLoads('certmint-pinned', server, { clientCpus: client })) {
          pinnedLoads.certmint.set(c, r);
          fair.pinning.verified.client ??= r.client_cpus_allowed;
        }
      } finally {
        await server.stop();
      }
      if (!settings.unpinned && settings.startRuns > 0) startup('pinned').certmint = await certmintStarts(ctx, server, servers);
    });
  }
  if (acmego && settings.stepCa) {
    await step('step-ca pinned loads', async () => {
      log(`step-ca pinned: fresh database, server on CPU ${servers}, client on CPU ${client}`);
      const peer = await startStepCa({ cpus: servers });
      fair.pinning.verified.stepCa = peer.cpusAllowed;
      try {
        for (const [c, r] of await runLoads('step-ca-pinned', { ...peer, sample: async () => ({ server_cpu_ms: treeCpuMs(peer.pid) }) }, { clientCpus: client })) pinnedLoads['step-ca'].set(c, r);
      } finally {
        peer.stop();
      }
      if (!settings.unpinned && settings.startRuns > 0) startup('pinned').stepCa = await stepCaStarts(ctx, servers);
    });
  }
}
