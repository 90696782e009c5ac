import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// bench/profile-report.mjs (where the JavaScript thread's time goes, issue 27) and bench/fair.mjs
// (the pinned/unpinned table's rows and targets), on made-up profiles and load results.
interface Frame {
  functionName: string;
  url: string;
  lineNumber?: number;
}
interface Attribution {
  windowMs: number;
  busyMsPerIssuance: number;
  categories: { name: string; msPerIssuance: number; percentOfBusy: number | null }[];
  topOther: { name: string; msPerIssuance: number }[];
}
interface ProfileReport {
  categorize(stack: Frame[]): string;
  attributeProfile(profile: unknown, o: { issuances: number; fromUs?: number; toUs?: number }): Attribution;
}
interface Load {
  ok: number;
  per_sec: number;
  p50_ms: number;
  p99_ms: number;
  server_cpu_ms: number;
  errors: number;
}
type Row = { mode: string; c: number; cpuMsPerIssuance: { certmint: number | null; stepCa: number | null }; ratios: Record<string, number | null> | null };
interface Target {
  name: string;
  value: number | null;
  pass: boolean | null;
  note?: string;
}
interface Fair {
  fairRow(mode: string, c: number, n: number, certmint?: Load, stepCa?: Load): Row;
  scalingRows(loads: { c: number; n: number }[], byWorkers: Map<number | string, Map<number, Load>>): Record<string, unknown>[];
  workersSupported(repo: string): boolean;
  addFairTargets(fair: unknown, add: (name: string, target: string, value: number | null | undefined, pass: boolean, note?: string) => void): void;
}

const repo = path.resolve(import.meta.dirname, '../..');
// Computed specifiers: the type checker does not read bench/*.mjs (see dist-imports.test.ts).
const load = async <T>(file: string) => (await import(pathToFileURL(path.join(repo, 'bench', file)).href)) as T;
const report = await load<ProfileReport>('profile-report.mjs');
const fair = await load<Fair>('fair.mjs');

const dist = (file: string, functionName = 'f'): Frame => ({ functionName, url: `file:///work/certmint/dist/${file}` });
const lib = (pkg: string, functionName = 'g'): Frame => ({ functionName, url: `file:///work/certmint/node_modules/${pkg}/lib/index.js` });
const node = (module: string, functionName = 'h'): Frame => ({ functionName, url: `node:${module}` });

describe('bench/profile-report.mjs categorize', () => {
  it('gives node:crypto the category of its caller: signing from ca/, JWS from jose', () => {
    expect(report.categorize([node('internal/crypto/sig', 'sign'), dist('ca/leaf-der.js'), dist('ra/finalize.js'), lib('fastify')])).toBe('signing');
    expect(report.categorize([node('internal/crypto/sig', 'verify'), lib('jose'), dist('acme/jws.js'), lib('fastify')])).toBe('JWS');
  });

  it('counts a log call as logging wherever it is made, and X.509 parsing without a certmint caller as CSR', () => {
    expect(report.categorize([lib('sonic-boom', 'write'), lib('pino'), dist('ledger/sqlite-orders.js')])).toBe('logging');
    expect(report.categorize([lib('asn1js'), lib('@peculiar/x509'), dist('ra/finalize.js'), lib('fastify'), node('_http_server')])).toBe('CSR');
    expect(report.categorize([lib('better-sqlite3', 'run'), dist('ledger/sqlite-orders.js'), dist('ra/orders.js')])).toBe('ledger');
  });

  it('leaves HTTP/TLS what nothing else claims, and names V8 own nodes', () => {
    expect(report.categorize([{ functionName: 'writev', url: '' }, node('internal/stream_base_commons'), node('_tls_wrap')])).toBe('HTTP/TLS');
    expect(report.categorize([lib('find-my-way', 'lookup'), lib('fastify')])).toBe('HTTP/TLS');
    expect(report.categorize([{ functionName: '(garbage collector)', url: '' }])).toBe('GC');
    expect(report.categorize([{ functionName: '(idle)', url: '' }])).toBe('idle');
    expect(report.categorize([dist('acme/serialize.js', 'orderBody'), node('internal/process/task_queues')])).toBe('other');
  });
});

describe('bench/profile-report.mjs attributeProfile', () => {
  // (root) → handler → jose (JWS); (root) → (idle); (root) → orderBody (other). Samples 1 ms apart
  // from t = 1000 µs; the time of a sample is the delta to the next one.
  const profile = {
    startTime: 0,
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 4, 5] },
      { id: 2, callFrame: dist('acme/jws.js', 'verifyJws'), children: [3] },
      { id: 3, callFrame: lib('jose', 'flattenedVerify') },
      { id: 4, callFrame: { functionName: '(idle)', url: '' } },
      { id: 5, callFrame: { ...dist('acme/serialize.js', 'orderBody'), lineNumber: 13 } },
    ],
    samples: [3, 3, 4, 5, 3, 4],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  };

  it('splits the busy time by category per issuance, over the load window only, and names the other functions', () => {
    const all = report.attributeProfile(profile, { issuances: 2 });
    const ms = Object.fromEntries(all.categories.map((c) => [c.name, c.msPerIssuance]));
    // Sample 6 has no next delta: its time is unknown and counted as 0.
    expect(ms).toMatchObject({ JWS: 1.5, idle: 0.5, other: 0.5 });
    expect(all.busyMsPerIssuance).toBe(2);
    expect(all.categories.find((c) => c.name === 'JWS')?.percentOfBusy).toBe(75);
    expect(all.topOther).toEqual([{ name: 'orderBody (dist/acme/serialize.js:14)', msPerIssuance: 0.5 }]);

    const window = report.attributeProfile(profile, { issuances: 1, fromUs: 2500, toUs: 4500 });
    expect(window.windowMs).toBe(2);
    expect(Object.fromEntries(window.categories.map((c) => [c.name, c.msPerIssuance]))).toMatchObject({ JWS: 0, idle: 1, other: 1 });
  });
});

const loadOf = (per_sec: number, p50_ms: number, cpuMsPerIssuance: number, ok = 100): Load => ({ ok, per_sec, p50_ms, p99_ms: p50_ms * 2, server_cpu_ms: cpuMsPerIssuance * ok, errors: 0 });

describe('bench/fair.mjs', () => {
  it('puts certmint and step-ca side by side with their ratios, CPU per issuance included', () => {
    const row = fair.fairRow('pinned', 32, 100, loadOf(120, 200, 4), loadOf(60, 400, 8));
    expect(row.cpuMsPerIssuance).toEqual({ certmint: 4, stepCa: 8 });
    expect(row.ratios).toEqual({ perSec: 2, p50: 0.5, p99: 0.5, cpu: 0.5 });
    expect(fair.fairRow('unpinned', 1, 10, loadOf(50, 20, 10)).ratios).toBeNull();
  });

  it('checks the pinned CPU target and, when the build has workers, the unpinned throughput with workers auto', () => {
    const rows = [fair.fairRow('pinned', 32, 100, loadOf(90, 300, 4), loadOf(70, 400, 10)), fair.fairRow('unpinned', 32, 100, loadOf(100, 300, 9), loadOf(150, 200, 8))];
    const byWorkers = new Map([['auto', new Map([[32, loadOf(310, 100, 9)]])]]) as Map<number | string, Map<number, Load>>;
    const targets: Target[] = [];
    const add = (name: string, _target: string, value: number | null | undefined, pass: boolean, note?: string) => targets.push({ name, value: value ?? null, pass: value === null || value === undefined ? null : pass, ...(note ? { note } : {}) });
    fair.addFairTargets({ rows, scaling: { supported: true, rows: fair.scalingRows([{ c: 32, n: 100 }], byWorkers) }, startup: { certmint: { medianMs: 450 }, stepCa: { medianMs: 300 } } }, add);
    expect(targets.find((t) => t.name.startsWith('pinned C=32 server CPU'))).toMatchObject({ value: 0.4, pass: true });
    expect(targets.find((t) => t.name.startsWith('unpinned C=32 issuances/s'))).toMatchObject({ name: 'unpinned C=32 issuances/s, certmint (workers auto) ÷ step-ca', value: 2.07, pass: true });
    expect(targets.find((t) => t.name.startsWith('start to serving'))).toMatchObject({ value: 450, pass: true, note: 'step-ca 300 ms' });
    expect(targets.find((t) => t.name === 'unpinned C=1 p50, certmint ÷ step-ca')).toMatchObject({ value: null, pass: null });

    const without: Target[] = [];
    fair.addFairTargets({ rows, scaling: { supported: false, rows: [] } }, (name, _t, value, pass, note) => without.push({ name, value: value ?? null, pass, ...(note ? { note } : {}) }));
    expect(without.find((t) => t.name.startsWith('unpinned C=32 issuances/s'))).toMatchObject({ value: 0.67, pass: false, note: expect.stringMatching(/workers not supported by this build/) });
  });

  it('detects server.workers in the built config schema', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-fair-'));
    try {
      mkdirSync(path.join(dir, 'dist', 'config'), { recursive: true });
      writeFileSync(path.join(dir, 'dist', 'config', 'schema.js'), 'export const server = { listen: 1 };');
      expect(fair.workersSupported(dir)).toBe(false);
      writeFileSync(path.join(dir, 'dist', 'config', 'schema.js'), 'export const server = { listen: 1, workers: 2 };');
      expect(fair.workersSupported(dir)).toBe(true);
      expect(fair.workersSupported(path.join(dir, 'missing'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench/processes.mjs writeCertmintConfig', () => {
  interface Processes {
    writeCertmintConfig(dir: string, o: { dataDir: string; dnsAddress: string; http01Port: number; port: number; workers?: number | string }): Promise<string>;
  }
  it('puts the scaling rows\' workers under server:, and nothing when not asked', async () => {
    const { parse } = await import('yaml');
    const { writeCertmintConfig } = await load<Processes>('processes.mjs');
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-fair-'));
    try {
      const base = { dataDir: path.join(dir, 'data'), dnsAddress: '127.0.0.1:8053', http01Port: 80, port: 14000 };
      const withWorkers = parse(readFileSync(await writeCertmintConfig(dir, { ...base, workers: 'auto' }), 'utf8')) as { server: Record<string, unknown> };
      expect(withWorkers.server).toMatchObject({ listen: '127.0.0.1:14000', workers: 'auto' });
      const without = parse(readFileSync(await writeCertmintConfig(dir, base), 'utf8')) as { server: Record<string, unknown> };
      expect(without.server).not.toHaveProperty('workers');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
