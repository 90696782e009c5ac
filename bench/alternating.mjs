// Issue 27: the C=1 latency of certmint and step-ca in alternating rounds. A C=1 load of either
// server lasts 15-20 s; run one after the other, a burst of a neighbour on a shared VM lands on one
// server only and moves the p50 ratio by 0.1-0.2 (seen: pinned ratios 0.64-0.86 in five runs of
// one day). Here both servers are up at once (idle while the other is loaded) and take turns:
// R rounds of N issuances each, the order swapped every round, so a slow minute hits both sides of
// the round it falls in. The figure is the median of the R per-round p50 ratios.
import { treeCpuMs } from './pinning.mjs';
import { startStepCa } from './processes.mjs';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : +((s[mid - 1] + s[mid]) / 2).toFixed(2);
};
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? +(a / b).toFixed(2) : null);
const perIssuance = (r) => (typeof r?.server_cpu_ms === 'number' && r.ok > 0 ? +(r.server_cpu_ms / r.ok).toFixed(2) : null);

/** What a round keeps of one server's load. */
const summary = (r) => ({ p50_ms: r.p50_ms, p99_ms: r.p99_ms, per_sec: r.per_sec, cpuMsPerIssuance: perIssuance(r), ok: r.ok, errors: r.errors });

/**
 * One mode's alternating rounds: a fresh certmint and a fresh step-ca started side by side (on
 * `cpus` when pinned, the client on `clientCpus`), each warmed up, then `settings.c1Rounds` rounds
 * of `settings.c1RoundIssuances` issuances at C=1 against each. `ctx.runLoad(label, target, { c,
 * n, clientCpus })` runs one load and returns its result with the server's CPU over it.
 */
export async function alternatingRounds(ctx, { mode, cpus, clientCpus }) {
  const { settings, log, runLoad, freshCertmint, dns } = ctx;
  const n = settings.c1RoundIssuances;
  log(`C=1 alternating rounds (${mode}): ${settings.c1Rounds} rounds of ${n} issuances per server, order swapped each round`);
  const certmint = await freshCertmint(`alternating-${mode}`, dns, { cpus });
  let peer;
  try {
    peer = await startStepCa({ cpus });
    const stepCa = { ...peer, sample: async () => ({ server_cpu_ms: treeCpuMs(peer.pid) }) };
    const targets = { certmint, 'step-ca': stepCa };
    for (const [name, target] of Object.entries(targets)) {
      if (settings.warmup > 0) {
        const w = await runLoad(`${name}-alternating-warmup`, target, { c: 1, n: settings.warmup, clientCpus, check: false });
        if (w.errors > 0) throw new Error(`${name} warm-up: ${w.errors} errors, first: ${w.first_error}`);
      }
    }
    const rounds = [];
    for (let i = 0; i < settings.c1Rounds; i++) {
      const order = i % 2 === 0 ? ['certmint', 'step-ca'] : ['step-ca', 'certmint'];
      const round = { first: order[0] };
      for (const name of order) round[name === 'certmint' ? 'certmint' : 'stepCa'] = summary(await runLoad(`${name}-${mode}-round-${i + 1}`, targets[name], { c: 1, n, clientCpus }));
      round.p50Ratio = ratio(round.certmint.p50_ms, round.stepCa.p50_ms);
      rounds.push(round);
    }
    const result = summarizeRounds(mode, n, rounds);
    log(`C=1 alternating (${mode}): p50 ratios ${rounds.map((r) => r.p50Ratio).join(', ')}; median ${result.medianP50Ratio}`);
    return result;
  } finally {
    peer?.stop();
    await certmint.stop();
  }
}

/** One mode's rounds with their medians: of the per-round p50 ratios (the figure), and of each server's p50s. */
export function summarizeRounds(mode, n, rounds) {
  const ratios = rounds.map((r) => r.p50Ratio).filter((x) => x !== null);
  return {
    mode,
    n,
    rounds,
    medianP50Ratio: ratios.length > 0 ? median(ratios) : null,
    medianP50Ms: { certmint: median(rounds.map((r) => r.certmint.p50_ms)), stepCa: median(rounds.map((r) => r.stepCa.p50_ms)) },
  };
}

const show = (v) => (v === null || v === undefined ? '–' : v);

/** The rounds as a table: per mode, each round's p50 of both servers and their ratio, then the medians. */
export function alternatingTable(rows) {
  const out = [['CPUs', 'round', 'first', 'certmint p50', 'step-ca p50', 'ratio', 'certmint CPU ms', 'step-ca CPU ms']];
  for (const a of rows) {
    a.rounds.forEach((r, i) => out.push([a.mode, i + 1, r.first, show(r.certmint.p50_ms), show(r.stepCa.p50_ms), show(r.p50Ratio), show(r.certmint.cpuMsPerIssuance), show(r.stepCa.cpuMsPerIssuance)]));
    out.push([a.mode, 'median', '', show(a.medianP50Ms.certmint), show(a.medianP50Ms.stepCa), show(a.medianP50Ratio), '', '']);
  }
  return out;
}

/** The C=1 target measured on the rounds, beside the one-run figure addFairTargets gives. */
export function addAlternatingTargets(rows, add) {
  for (const a of rows ?? []) {
    add(`${a.mode} C=1 p50, certmint ÷ step-ca, median of ${a.rounds.length} alternating rounds of ${a.n}`, '≤ 0.5', a.medianP50Ratio, a.medianP50Ratio <= 0.5,
      `round ratios ${a.rounds.map((r) => show(r.p50Ratio)).join(', ')}`);
  }
}
