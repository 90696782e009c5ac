#!/usr/bin/env node
// Where the milliseconds of one issuance go at C=1 (issue 27: "at 1 worker, p50 <= 0.5 x
// step-ca's"): certmint on a fresh data dir, a warm-up, then one Go client worker (acmego -trace)
// running N full flows, each request timed on the client with httptrace. Prints, per step of the
// flow, the medians of: the client's own work before the request (reading the previous response,
// signing, key and CSR generation: the gap since the previous response's first byte) and the
// server's time (request written → first response byte; loopback adds microseconds); plus when
// the http-01 fetch reached the client during the challenge POST.
//
//   flock /tmp/certmint-bench.lock node bench/timeline.mjs [--issuances N] [--warmup N] [--pinned]
//     [--main dist/cli/main.js] [--keep] [--json]
//
// --main: the certmint entry to run (another build's dist/cli/main.js, for an A/B of the
// timeline). --pinned: client on one CPU, certmint on the others, as the benchmark's pinned loads.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { cleanup, cpuMsOf, loadScriptOptions, runAcmegoLoad, startLoadTarget } from './processes.mjs';
import { cpuSplit } from './pinning.mjs';

/** Steps of one x/crypto/acme flow (test/interop/acmego issue()), named from method and path. */
export function stepName(method, urlPath) {
  const p = urlPath
    .replace(/\/[A-Za-z0-9_-]{16,}/g, '/{id}')
    .replace(/\/\d+(?=\/|$)/g, '/{n}');
  return `${method} ${p}`;
}

const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

/**
 * Reads acmego's -trace file: the ACME requests grouped into flows (a flow starts at newOrder),
 * and each flow's http-01 fetches. Flows of the warm-up or registration are not in the file.
 */
export function parseTrace(text) {
  const rows = text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [kind, method, urlPath, status, reused, start, conn, wrote, firstByte, closed] = line.split('\t');
      return { kind, method, urlPath, status, reused: reused === 'true', start: +start, conn: +conn, wrote: +wrote, firstByte: +firstByte, closed: +closed };
    })
    .sort((a, b) => a.start - b.start);
  const flows = [];
  let flow;
  for (const r of rows) {
    if (r.kind === 'acme' && r.method === 'POST' && /new-?order/i.test(r.urlPath)) {
      flow = { requests: [], http01: [] };
      flows.push(flow);
    }
    if (!flow) continue;
    (r.kind === 'http01' ? flow.http01 : flow.requests).push(r);
  }
  return flows;
}

/** Per step (by position in the flow): medians in ms of the client work before it and the server wait. */
export function summarize(flows) {
  const full = flows.filter((f) => f.requests.length > 0 && f.requests.every((r) => r.status !== 'error'));
  const shape = median(full.map((f) => f.requests.length));
  const same = full.filter((f) => f.requests.length === shape);
  const steps = [];
  for (let i = 0; i < shape; i++) {
    const at = same.map((f) => f.requests[i]);
    // From the previous response's first byte, not its Close: x/crypto closes the finalize
    // response only after fetching the certificate (a deferred Close in CreateOrderCert).
    const before = same.map((f) => (i === 0 ? 0 : f.requests[i].start - f.requests[i - 1].firstByte));
    steps.push({
      step: stepName(at[0].method, at[0].urlPath),
      clientBeforeMs: median(before) / 1000,
      serverMs: median(at.map((r) => r.firstByte - r.wrote)) / 1000,
      newConnections: at.filter((r) => !r.reused).length / at.length,
    });
  }
  const http01 = same
    .map((f) => {
      const fetch = f.http01[0];
      const chall = f.requests.find((r) => r.start <= (fetch?.start ?? -1) && (fetch?.start ?? -1) <= r.closed);
      return fetch && chall ? { afterWriteMs: (fetch.start - chall.wrote) / 1000, beforeAnswerMs: (chall.firstByte - fetch.start) / 1000 } : undefined;
    })
    .filter(Boolean);
  const totals = same.map((f) => (Math.max(...f.requests.map((r) => r.closed)) - f.requests[0].start) / 1000);
  return {
    flows: flows.length,
    flowsOfUsualShape: same.length,
    requestsPerFlow: shape,
    steps,
    http01FetchAfterChallengeWrittenMs: median(http01.map((h) => h.afterWriteMs)),
    challengeAnsweredAfterHttp01FetchMs: median(http01.map((h) => h.beforeAnswerMs)),
    flowMs: median(totals),
    serverMsPerFlow: steps.reduce((s, x) => s + x.serverMs, 0),
    clientMsPerFlow: steps.reduce((s, x) => s + x.clientBeforeMs, 0),
  };
}

export function timelineTable(s) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
  const lines = [
    `${s.flowsOfUsualShape} of ${s.flows} flows with the usual ${s.requestsPerFlow} requests; medians in ms`,
    '',
    `${'step'.padEnd(40)}  client before  server  new conn`,
    ...s.steps.map((x) => `${x.step.padEnd(40)}  ${f(x.clientBeforeMs).padStart(13)}  ${f(x.serverMs).padStart(6)}  ${x.newConnections.toFixed(2).padStart(8)}`),
    '',
    `sum of step medians: client ${f(s.clientMsPerFlow)}, server ${f(s.serverMsPerFlow)}; flow (first request → last body read) ${f(s.flowMs)}`,
    `http-01 fetch reached the client ${f(s.http01FetchAfterChallengeWrittenMs)} ms after the challenge POST was written; its answer came ${f(s.challengeAnsweredAfterHttp01FetchMs)} ms after that`,
  ];
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: loadScriptOptions({
      issuances: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '50' },
      pinned: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    }),
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-timeline-'));
  const cpus = values.pinned ? cpuSplit() : null;
  try {
    const { server, target } = await startLoadTarget(dir, { main: values.main, http01Port: Number(values['http01-port']), cpus });
    await runAcmegoLoad({ ...target, n: Number(values.warmup), c: 1, nameTemplate: 'warm-w%d-i%d.timeline.test' });
    const cpuBefore = cpuMsOf(server.pid);
    const traceFile = path.join(dir, 'trace.tsv');
    const load = await runAcmegoLoad({ ...target, n: Number(values.issuances), c: 1, nameTemplate: 'w%d-i%d.timeline.test', traceFile });
    const serverCpuMs = cpuMsOf(server.pid) - cpuBefore;
    await server.stop();
    const s = summarize(parseTrace(readFileSync(traceFile, 'utf8')));
    const result = { main: values.main, pinned: values.pinned, p50Ms: load.p50_ms, perSec: load.per_sec, serverCpuMsPerIssuance: +(serverCpuMs / load.ok).toFixed(2), ...s };
    if (values.json) console.log(JSON.stringify(result));
    else console.log(`${timelineTable(s)}\nacmego p50 ${load.p50_ms} ms, ${load.per_sec}/s; certmint CPU ${result.serverCpuMsPerIssuance} ms per issuance${values.keep ? `\nkept ${dir}` : ''}`);
  } finally {
    await cleanup();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
