// Issue 27: where certmint's JavaScript thread spends its milliseconds per issuance, from a V8
// CPU profile (node --cpu-prof). Each sample is one stack; its time goes to one category:
//
//   1. the innermost frame, walking from the sampled function up to the root, that matches a
//      specific category (JWS, CSR, signing, ledger, validation, logging: certmint's own modules
//      and the libraries only they use) decides;
//   2. else the innermost generic crypto/ASN.1 frame decides (@peculiar/x509, asn1js, pkijs →
//      CSR; node:crypto → signing): these are libraries called from code that has no category of
//      its own (a CSR parsed in ra/);
//   3. else HTTP/TLS when any frame is node's net/tls/http or fastify and its router: the HTTP
//      frames sit under most synchronous work, so they only take what nothing else claims;
//   4. V8's own nodes: (garbage collector) → GC, (idle) → idle, (program) → native work V8
//      could not attribute to a JavaScript frame (TLS encryption in OpenSSL, syscalls), and
//      everything else → other (its top functions by self time are listed).
//
// So node:crypto called from src/ca/leaf is signing, from jose it is JWS (rule 1 finds the
// caller), and a pino call inside a ledger function is logging (pino is the innermost match).

const SPECIFIC = [
  ['JWS', [/\/dist\/acme\/jws[^/]*\.js$/, /\/node_modules\/jose\//]],
  ['logging', [/\/node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|on-exit-leak-free)\//]],
  ['CSR', [/\/dist\/ca\/(csr|csr-common|ca-csr)\.js$/]],
  ['signing', [/\/dist\/ca\/(leaf[^/]*|[^/]*key-provider|crypto-provider|issuer-fields|serial|x509-authority)\.js$/, /\/dist\/ca\/pkcs11\//]],
  ['ledger', [/\/dist\/ledger\//, /\/node_modules\/better-sqlite3\//, /\/node_modules\/pg(-[a-z]+)?\//]],
  ['validation', [/\/dist\/validation\//]],
];
const GENERIC = [
  ['CSR', [/\/node_modules\/(@peculiar\/[^/]+|asn1js|pkijs|pvtsutils|pvutils|@noble\/[^/]+)\//]],
  ['signing', [/^node:crypto$/, /^node:internal\/crypto\//]],
];
const HTTP = [/^node:(_tls_\w+|tls|net|_http_\w+|http|https|internal\/(tls|http|stream_base_commons|js_stream_socket)[^ ]*)$/, /\/node_modules\/(fastify|@fastify\/[^/]+|light-my-request|find-my-way|avvio|fast-json-stringify|secure-json-parse)\//];

export const CATEGORIES = ['HTTP/TLS', 'JWS', 'CSR', 'signing', 'ledger', 'validation', 'logging', 'GC', 'program (native)', 'other', 'idle'];

const matches = (patterns, url) => patterns.some((re) => re.test(url));

/** The category of one sample's stack, innermost frame first (each frame: {functionName, url}). */
export function categorize(stack) {
  const top = stack[0];
  if (top?.url === '') {
    if (top.functionName === '(garbage collector)') return 'GC';
    if (top.functionName === '(idle)') return 'idle';
    if (top.functionName === '(program)') return 'program (native)';
  }
  for (const frame of stack) for (const [name, patterns] of SPECIFIC) if (matches(patterns, frame.url)) return name;
  for (const frame of stack) for (const [name, patterns] of GENERIC) if (matches(patterns, frame.url)) return name;
  if (stack.some((frame) => matches(HTTP, frame.url))) return 'HTTP/TLS';
  return 'other';
}

/** "function (file:line)" of a frame, the file relative to dist/ or node_modules/. */
function frameName(frame) {
  const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} (${file || 'native'}${frame.lineNumber >= 0 ? `:${frame.lineNumber + 1}` : ''})`;
}

/**
 * Self time per category (ms) of the samples between `fromUs` and `toUs` (V8's monotonic
 * microseconds, the clock of process.hrtime; the whole profile when absent), per issuance over
 * `issuances`, and the top `topOther` "other" functions. A sample's time is the delta to the next
 * sample (how Chrome's DevTools count it).
 */
export function attributeProfile(profile, { issuances, fromUs = -Infinity, toUs = Infinity, topOther = 10 }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stackCategory = new Map();
  const categoryOf = (id) => {
    if (!stackCategory.has(id)) {
      const stack = [];
      for (let at = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at).callFrame);
      stackCategory.set(id, categorize(stack));
    }
    return stackCategory.get(id);
  };
  const totals = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  const other = new Map();
  let t = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    windowUs += us;
    const id = profile.samples[i];
    const category = categoryOf(id);
    totals[category] += us;
    if (category === 'other') {
      const name = frameName(byId.get(id).callFrame);
      other.set(name, (other.get(name) ?? 0) + us);
    }
  }
  const busyUs = windowUs - totals.idle;
  const perIssuance = (us) => +(us / 1000 / issuances).toFixed(3);
  return {
    issuances,
    windowMs: Math.round(windowUs / 1000),
    busyMsPerIssuance: perIssuance(busyUs),
    categories: CATEGORIES.map((name) => ({ name, msPerIssuance: perIssuance(totals[name]), percentOfBusy: name === 'idle' || busyUs === 0 ? null : +((totals[name] / busyUs) * 100).toFixed(1) })),
    topOther: [...other.entries()].sort((a, b) => b[1] - a[1]).slice(0, topOther).map(([name, us]) => ({ name, msPerIssuance: perIssuance(us) })),
  };
}

const show = (v) => (v === null || v === undefined ? '–' : v);

export function profileTable(profile) {
  const rows = [['JS thread, per issuance', 'ms', '% of busy']];
  for (const c of profile.attribution.categories) rows.push([c.name, c.msPerIssuance, c.percentOfBusy === null ? '–' : `${c.percentOfBusy} %`]);
  rows.push(['busy (all but idle)', profile.attribution.busyMsPerIssuance, '100 %']);
  return rows;
}

export function profileNote(profile) {
  const a = profile.attribution;
  const others = a.topOther.map((o) => `${o.name} ${o.msPerIssuance}`).join('; ');
  return (
    `Profile: certmint under node --cpu-prof, ${profile.cpus ? `server on CPU ${profile.cpus.servers}, client on CPU ${profile.cpus.client}` : 'unpinned'}, ` +
    `C=${profile.c}, ${a.issuances} issuances (${profile.perSec}/s; the load's ${a.windowMs} ms only, start-up and warm-up left out); ` +
    `the JavaScript thread's CPU for the same load from /proc: ${show(profile.mainThreadCpuMsPerIssuance)} ms per issuance. ` +
    `Categories by the innermost frame that has one (bench/profile-report.mjs). The profiler samples the thread's wall time: ` +
    `time blocked in a synchronous call (SQLite's fsync at commit, under ledger) or preempted on a shared core counts to the frame it was in, ` +
    `so the busy sum exceeds the CPU figure. Top "other" functions (ms per issuance): ${others || 'none'}.`
  );
}
