import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// bench/timeline.mjs: reading acmego's -trace file into the per-step timeline of one C=1 issuance.
interface TimelineStep {
  step: string;
  clientBeforeMs: number;
  serverMs: number;
  newConnections: number;
}
interface Timeline {
  flows: number;
  flowsOfUsualShape: number;
  requestsPerFlow: number;
  steps: TimelineStep[];
  http01FetchAfterChallengeWrittenMs: number;
  challengeAnsweredAfterHttp01FetchMs: number;
  flowMs: number;
}
interface TimelineModule {
  parseTrace(text: string): unknown[];
  summarize(flows: unknown[]): Timeline;
  stepName(method: string, urlPath: string): string;
}
const repo = path.resolve(import.meta.dirname, '../..');
// A computed specifier: the type checker does not read bench/*.mjs (see dist-imports.test.ts).
const timeline = (await import(pathToFileURL(path.join(repo, 'bench', 'timeline.mjs')).href)) as TimelineModule;

const HEADER = 'kind\tmethod\tpath\tstatus\treused\tstart_us\tconn_us\twrote_us\tfirst_byte_us\tclosed_us';

/**
 * One x/crypto flow as acmego traces it, from `t0` µs: each request starts 100 µs after the
 * previous response's first byte and the server takes `serverUs[i]`. The finalize response is
 * closed only after the certificate's (CreateOrderCert's deferred Close).
 */
function flow(t0: number, serverUs: number[], reused = true): string[] {
  const paths = ['/acme/new-order', '/acme/authz/AAAAAAAAAAAAAAAAAAAA', '/acme/chall/BBBBBBBBBBBBBBBBBBBB', '/acme/authz/AAAAAAAAAAAAAAAAAAAA', '/acme/order/CCCCCCCCCCCCCCCCCCCC', '/acme/order/CCCCCCCCCCCCCCCCCCCC/finalize', '/acme/cert/DDDDDDDDDDDDDDDDDDDD'];
  const lines: string[] = [];
  let at = t0;
  const rows = paths.map((p, i) => {
    const start = at;
    const wrote = start + 20;
    const firstByte = wrote + serverUs[i]!;
    at = firstByte + 100;
    return { p, start, wrote, firstByte, closed: firstByte + 30 };
  });
  rows[5]!.closed = rows[6]!.closed + 5;
  rows.forEach((r, i) => lines.push(['acme', 'POST', r.p, '200', String(reused || i > 0), r.start, r.start + 10, r.wrote, r.firstByte, r.closed].join('\t')));
  // The http-01 fetch reaches the client 1,500 µs into the challenge POST's server time.
  const fetch = rows[2]!.wrote + 1500;
  lines.push(['http01', 'GET', '/.well-known/acme-challenge/tok', '200', '-', fetch, -1, -1, -1, fetch].join('\t'));
  return lines;
}

describe('bench/timeline.mjs', () => {
  it('names the steps of a flow without their ids', () => {
    expect(timeline.stepName('POST', '/acme/order/CCCCCCCCCCCCCCCCCCCC/finalize')).toBe('POST /acme/order/{id}/finalize');
    expect(timeline.stepName('POST', '/acme/new-order')).toBe('POST /acme/new-order');
  });

  it('splits each step into client work before it and server time, medians over the flows', () => {
    const server = [2000, 1000, 4000, 1000, 1000, 6000, 1500];
    const text = [HEADER, ...flow(0, server, false), ...flow(100_000, server), ...flow(200_000, server.map((us) => us * 2))].join('\n');
    const s = timeline.summarize(timeline.parseTrace(text));
    expect(s.flows).toBe(3);
    expect(s.requestsPerFlow).toBe(7);
    expect(s.steps.map((x) => x.step)).toEqual([
      'POST /acme/new-order',
      'POST /acme/authz/{id}',
      'POST /acme/chall/{id}',
      'POST /acme/authz/{id}',
      'POST /acme/order/{id}',
      'POST /acme/order/{id}/finalize',
      'POST /acme/cert/{id}',
    ]);
    expect(s.steps.map((x) => x.serverMs)).toEqual(server.map((us) => us / 1000));
    // From the previous first byte, so the finalize's late Close does not make the certificate's
    // request start "before" the finalize ended.
    expect(s.steps.map((x) => x.clientBeforeMs)).toEqual([0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
    expect(s.steps[0]!.newConnections).toBeCloseTo(1 / 3);
    expect(s.steps[1]!.newConnections).toBe(0);
    expect(s.http01FetchAfterChallengeWrittenMs).toBe(1.5);
    expect(s.challengeAnsweredAfterHttp01FetchMs).toBe(2.5);
    // First request's start to the finalize's Close, which came last.
    const total = server.reduce((a, b) => a + b, 0) + 7 * 20 + 6 * 100 + 30 + 5;
    expect(s.flowMs).toBe(total / 1000);
  });
});
