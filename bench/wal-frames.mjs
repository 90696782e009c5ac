#!/usr/bin/env node
// Issue 27, ledger CPU: which b-trees (tables, indexes) the WAL frames of an issuance write. certmint
// on a fresh data dir, a warm-up, then a reader connection of this script holds a read snapshot
// (BEGIN; SELECT) so that no checkpoint can reset the WAL; the Go client runs N issuances; the WAL's
// frames written after the snapshot are read from the file (sqlite.org/fileformat2.html#walformat:
// 32-byte header, then 24-byte frame headers: page number, db size after commit (non-zero on a
// commit frame), the header's salts) and their page numbers named through the `dbstat` virtual
// table (pages in no b-tree: freelist/pointer-map, named "(free)"). Prints frames and bytes per
// issuance, by b-tree, and the transactions by the set of b-trees they wrote.
// --size: no snapshot (the WAL is checkpointed as usual); prints the ledger's size per certificate
// after the run instead, by b-tree (dbstat), the file checkpointed and its free pages counted apart.
//
//   flock /tmp/certmint-bench.lock node bench/wal-frames.mjs [-n 300] [-c 8] [--main dist/cli/main.js] [--json]
//   flock /tmp/certmint-bench.lock node bench/wal-frames.mjs --size -n 10000 -c 32
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { cleanup, cpuMsOf, loadScriptOptions, runAcmegoLoad, startLoadTarget } from './processes.mjs';

/** The frames of a WAL file's current generation: {page, commitSize} in order, from frame index `from`. */
export function walFrames(buf, from = 0) {
  if (buf.length < 32) return { pageSize: 0, frames: [] };
  const pageSize = buf.readUInt32BE(8) || 65536;
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  const frames = [];
  let lastCommit = 0;
  for (let off = 32, i = 0; off + 24 + pageSize <= buf.length; off += 24 + pageSize, i++) {
    if (buf.readUInt32BE(off + 8) !== salt1 || buf.readUInt32BE(off + 12) !== salt2) break;
    frames.push({ page: buf.readUInt32BE(off), commitSize: buf.readUInt32BE(off + 4) });
    if (frames[i].commitSize !== 0) lastCommit = i + 1;
  }
  // Frames after the last commit frame belong to no committed transaction.
  return { pageSize, frames: frames.slice(from, lastCommit), end: lastCommit };
}

/** page number → b-tree name, read through dbstat. */
export function pageOwners(db) {
  const owners = new Map();
  for (const r of db.prepare('SELECT name, pageno FROM dbstat').iterate()) owners.set(r.pageno, r.name);
  return owners;
}

/** The ledger file's bytes per certificate in it, by b-tree, after a full checkpoint. */
export function ledgerSize(file) {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const certificates = db.prepare('SELECT COUNT(*) FROM certificates').pluck().get();
    const pageSize = db.pragma('page_size', { simple: true });
    const fileBytes = db.pragma('page_count', { simple: true }) * pageSize;
    const freeBytes = db.pragma('freelist_count', { simple: true }) * pageSize;
    const trees = db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all();
    const per = (b) => Math.round(b / certificates);
    return {
      certificates,
      fileBytes,
      freeBytes,
      bytesPerCertificate: per(fileBytes - freeBytes),
      byTree: trees.slice(0, 12).map((t) => ({ name: t.name, bytesPerCertificate: per(t.bytes) })),
    };
  } finally {
    db.close();
  }
}

/** Frames grouped into transactions (a commit frame ends one), each named by the b-trees it wrote. */
export function summarizeFrames(frames, owners, issuances, pageSize) {
  const byTree = new Map();
  const byShape = new Map();
  let txn = [];
  for (const f of frames) {
    const name = owners.get(f.page) ?? '(free)';
    byTree.set(name, (byTree.get(name) ?? 0) + 1);
    txn.push(name);
    if (f.commitSize !== 0) {
      const counts = new Map();
      for (const n of txn) counts.set(n, (counts.get(n) ?? 0) + 1);
      const shape = [...counts.keys()].sort().join(' + ');
      const s = byShape.get(shape) ?? { transactions: 0, frames: 0 };
      s.transactions += 1;
      s.frames += txn.length;
      byShape.set(shape, s);
      txn = [];
    }
  }
  const per = (x) => +(x / issuances).toFixed(2);
  const transactions = [...byShape.values()].reduce((a, s) => a + s.transactions, 0);
  return {
    issuances,
    frames: frames.length,
    framesPerIssuance: per(frames.length),
    walBytesPerIssuance: Math.round((frames.length * (pageSize + 24)) / issuances),
    transactionsPerIssuance: per(transactions),
    byTree: [...byTree].sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ name, framesPerIssuance: per(n) })),
    byTransaction: [...byShape]
      .sort((a, b) => b[1].frames - a[1].frames)
      .map(([shape, s]) => ({ shape, perIssuance: per(s.transactions), framesEach: +(s.frames / s.transactions).toFixed(2) })),
  };
}

async function main() {
  const { values } = parseArgs({
    options: loadScriptOptions({
      n: { type: 'string', short: 'n', default: '300' },
      c: { type: 'string', short: 'c', default: '8' },
      warmup: { type: 'string', default: '50' },
      keep: { type: 'boolean', default: false },
      size: { type: 'boolean', default: false },
    }),
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-wal-frames-'));
  let reader;
  try {
    const { server, target, dataDir } = await startLoadTarget(dir, { main: values.main, http01Port: Number(values['http01-port']) });
    await runAcmegoLoad({ ...target, n: Number(values.warmup), c: Math.min(Number(values.c), Number(values.warmup)), nameTemplate: 'warm-w%d-i%d.wal.test' });
    const file = path.join(dataDir, 'ledger.sqlite3');
    if (values.size) {
      const load = await runAcmegoLoad({ ...target, n: Number(values.n), c: Number(values.c), nameTemplate: 'w%d-i%d.wal.test' });
      await server.stop();
      const result = { main: values.main, ...ledgerSize(file), issuances: load.ok };
      if (values.json) console.log(JSON.stringify(result));
      else console.log(result);
      return;
    }
    reader = new Database(file, { readonly: true });
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM sqlite_schema').get();
    const start = walFrames(readFileSync(`${file}-wal`)).end;
    const cpuBefore = cpuMsOf(server.pid);
    const load = await runAcmegoLoad({ ...target, n: Number(values.n), c: Number(values.c), nameTemplate: 'w%d-i%d.wal.test' });
    const serverCpuMs = cpuMsOf(server.pid) - cpuBefore;
    const { pageSize, frames } = walFrames(readFileSync(`${file}-wal`), start);
    reader.prepare('COMMIT').run();
    reader.close();
    reader = undefined;
    await server.stop();
    const db = new Database(file, { readonly: true });
    const owners = pageOwners(db);
    db.close();
    const s = summarizeFrames(frames, owners, load.ok, pageSize);
    const result = { main: values.main, c: Number(values.c), serverCpuMsPerIssuance: +(serverCpuMs / load.ok).toFixed(2), ...s };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`${s.issuances} issuances at C=${values.c}: ${s.framesPerIssuance} WAL frames (${s.walBytesPerIssuance} bytes) and ${s.transactionsPerIssuance} transactions per issuance`);
      console.log('\nframes per issuance by b-tree:');
      for (const t of s.byTree) console.log(`  ${String(t.framesPerIssuance).padStart(7)}  ${t.name}`);
      console.log('\ntransactions by the b-trees they wrote (per issuance × frames each):');
      for (const t of s.byTransaction) console.log(`  ${String(t.perIssuance).padStart(6)} × ${String(t.framesEach).padStart(6)}  ${t.shape}`);
      if (values.keep) console.log(`kept ${dir}`);
    }
  } finally {
    reader?.close();
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
