#!/usr/bin/env node
// Issue 27, ledger CPU: the SQL statements an issuance runs, by request and by statement. certmint
// on a fresh data dir with this file loaded into it (`node --import bench/sql-count.mjs`): there it
// wraps better-sqlite3's Statement run/get/all/iterate, Database exec and prepare, and names each
// call by the HTTP request whose async context ran it (AsyncLocalStorage entered on the server's
// 'request' event: a challenge's validation, which runs after its POST was answered, counts as that
// POST's). SIGUSR2 writes the counts to $SQL_COUNT_OUT and starts them again. As a script: a
// warm-up, the counts reset, the Go client runs N issuances, the counts divided by N are printed.
//
//   flock /tmp/certmint-bench.lock node bench/sql-count.mjs [-n 100] [-c 8] [--main dist/cli/main.js] [--json] [--top 40]
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const SELF = fileURLToPath(import.meta.url);

/** A request's kind: its method and path, ids replaced by ':id'. */
function requestKind(req) {
  const p = (req.url ?? '').split('?')[0].replace(/\/[A-Za-z0-9_-]{16,}/g, '/:id');
  return `${req.method} ${p}`;
}

async function hook() {
  const { createRequire } = await import('node:module');
  // The server's own copy (its entry's node_modules), not this checkout's.
  const require = createRequire(path.resolve(process.argv[1]));
  const Database = require('better-sqlite3');
  const als = new AsyncLocalStorage();
  let counts = new Map(); // kind → Map(sql → n)
  let prepares = new Map(); // sql → n
  let requests = new Map(); // kind → n
  const add = (sql) => {
    const kind = als.getStore() ?? '(no request)';
    let m = counts.get(kind);
    if (!m) counts.set(kind, (m = new Map()));
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 160);
    m.set(key, (m.get(key) ?? 0) + 1);
  };
  const probe = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1'));
  probe.close();
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = statementProto[name];
    statementProto[name] = function counted(...args) {
      add(this.source);
      return original.apply(this, args);
    };
  }
  const exec = Database.prototype.exec;
  Database.prototype.exec = function counted(sql) {
    add(sql);
    return exec.call(this, sql);
  };
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function counted(sql, ...rest) {
    const key = `${als.getStore() ?? '(no request)'} | ${String(sql).replace(/\s+/g, ' ').trim().slice(0, 120)}`;
    prepares.set(key, (prepares.get(key) ?? 0) + 1);
    return prepare.call(this, sql, ...rest);
  };
  for (const mod of ['node:https', 'node:http', 'node:http2']) {
    const m = await import(mod);
    for (const Server of [m.Server, m.Http2SecureServer, m.Http2Server].filter(Boolean)) {
      const emit = Server.prototype.emit;
      Server.prototype.emit = function entered(event, ...args) {
        if (event !== 'request') return emit.call(this, event, ...args);
        const kind = requestKind(args[0]);
        requests.set(kind, (requests.get(kind) ?? 0) + 1);
        return als.run(kind, () => emit.call(this, event, ...args));
      };
    }
  }
  process.on('SIGUSR2', () => {
    const out = {
      requests: Object.fromEntries(requests),
      statements: Object.fromEntries([...counts].map(([k, m]) => [k, Object.fromEntries(m)])),
      prepares: Object.fromEntries(prepares),
    };
    writeFileSync(process.env.SQL_COUNT_OUT, JSON.stringify(out));
    counts = new Map();
    prepares = new Map();
    requests = new Map();
  });
}

/** Asks the server for its counts (and resets them). */
async function takeCounts(pid, file) {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      await sleep(25);
    }
  }
  throw new Error('no counts from the server');
}

export function summarize(counts, issuances) {
  const per = (x) => +(x / issuances).toFixed(2);
  const byKind = [];
  const byStatement = new Map();
  let total = 0;
  for (const [kind, m] of Object.entries(counts.statements)) {
    let n = 0;
    for (const [sql, c] of Object.entries(m)) {
      n += c;
      byStatement.set(sql, (byStatement.get(sql) ?? 0) + c);
    }
    total += n;
    byKind.push({ kind, requests: per(counts.requests[kind] ?? 0), statements: per(n), statementsPerRequest: +(n / (counts.requests[kind] || 1)).toFixed(2) });
  }
  byKind.sort((a, b) => b.statements - a.statements);
  const prepared = Object.entries(counts.prepares).map(([k, n]) => ({ statement: k, perIssuance: per(n) }));
  return {
    issuances,
    statementsPerIssuance: per(total),
    byRequest: byKind,
    byStatement: [...byStatement].sort((a, b) => b[1] - a[1]).map(([sql, n]) => ({ perIssuance: per(n), sql })),
    byRequestAndStatement: Object.fromEntries(
      Object.entries(counts.statements).map(([kind, m]) => [kind, Object.entries(m).sort((a, b) => b[1] - a[1]).map(([sql, n]) => `${per(n)}  ${sql}`)]),
    ),
    preparedDuringRun: prepared,
  };
}

async function main() {
  // Imported here, not at the top: this file is also the preload certmint runs with.
  const { cleanup, loadScriptOptions, runAcmegoLoad, startLoadTarget } = await import('./processes.mjs');
  const { values } = parseArgs({
    options: loadScriptOptions({
      n: { type: 'string', short: 'n', default: '100' },
      c: { type: 'string', short: 'c', default: '8' },
      warmup: { type: 'string', default: '20' },
      top: { type: 'string', default: '40' },
    }),
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-sql-count-'));
  const out = path.join(dir, 'counts.json');
  process.env.SQL_COUNT_OUT = out;
  try {
    const { server, target } = await startLoadTarget(dir, { main: values.main, http01Port: Number(values['http01-port']), nodeArgs: ['--import', pathToFileURL(SELF).href] });
    const warm = Number(values.warmup);
    await runAcmegoLoad({ ...target, n: warm, c: Math.min(Number(values.c), warm), nameTemplate: 'warm-w%d-i%d.sql.test' });
    await takeCounts(server.pid, out);
    const load = await runAcmegoLoad({ ...target, n: Number(values.n), c: Number(values.c), nameTemplate: 'w%d-i%d.sql.test' });
    // Validations answered late and the CRL/outbox timers: what the run left running, a moment on.
    await sleep(300);
    const s = summarize(await takeCounts(server.pid, out), load.ok);
    await server.stop();
    if (values.json) return void console.log(JSON.stringify(s));
    console.log(`${s.issuances} issuances at C=${values.c}: ${s.statementsPerIssuance} SQL statements per issuance (main thread)`);
    console.log('\nby request (requests, statements per issuance; statements per request):');
    for (const k of s.byRequest) console.log(`  ${String(k.requests).padStart(5)} ${String(k.statements).padStart(6)}  (${k.statementsPerRequest}/req)  ${k.kind}`);
    console.log('\nby statement (per issuance):');
    for (const t of s.byStatement.slice(0, Number(values.top))) console.log(`  ${String(t.perIssuance).padStart(6)}  ${t.sql}`);
    console.log('\nby request and statement:');
    for (const [kind, lines] of Object.entries(s.byRequestAndStatement)) console.log(`  ${kind}\n${lines.map((l) => `      ${l}`).join('\n')}`);
    if (s.preparedDuringRun.length) console.log('\nprepared during the run (per issuance):', s.preparedDuringRun);
  } finally {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
} else if (isMainThread && process.env.SQL_COUNT_OUT) {
  await hook();
}
