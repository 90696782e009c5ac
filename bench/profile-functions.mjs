// Issue 27: the function-level view of a profile from bench/profile.mjs (run it with --keep): self
// and total time per issuance of each function, and of each source file or package, over the
// load's samples only (the window the profile's JSON names). Total counts a function once per
// sample however often it recurs on the stack, so a caller's total includes its callees'.
//
//   node bench/profile-functions.mjs bench/results/profile-<date>.json [--top 40] [--match REGEX]
//
// --callers REGEX: the call chains (5 callers up) of the functions whose name matches, by time.
// --match: only functions whose file matches (e.g. 'dist/(acme|ra|ca|validation)/|jose|@peculiar|asn1js|pvtsutils').
// --us: microseconds instead of milliseconds (bench/http-layer.mjs's profiles: "per issuance" is per request).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    match: { type: 'string' },
    files: { type: 'boolean', default: false },
    callers: { type: 'string' },
    us: { type: 'boolean', default: false },
  },
});
const result = JSON.parse(readFileSync(positionals[0], 'utf8'));
const profiles = result.cpuprofile.split(' ').map((f) => JSON.parse(readFileSync(f, 'utf8')));
const { fromUs = -Infinity, toUs = Infinity } = result.window ?? {};
const issuances = result.attribution.issuances;
const match = opt.match ? new RegExp(opt.match) : null;

const short = (url) => url.replace(/^.*\/(dist|node_modules)\//, '$1/') || 'native';
const fnName = (f) => `${f.functionName || '(anonymous)'} (${short(f.url)}${f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : ''})`;
const fileName = (f) => {
  const s = short(f.url);
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(s);
  return pkg ? pkg[1] : s;
};

// --callers NAME: the stacks above each function whose name matches NAME, by total (its callers' chains).
const callers = opt.callers ? new RegExp(opt.callers) : null;
const chains = new Map();
const self = new Map();
const total = new Map();
const fileSelf = new Map();
const fileTotal = new Map();
const add = (m, k, us) => m.set(k, (m.get(k) ?? 0) + us);
for (const profile of profiles) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map();
  const stackOf = (id) => {
    let s = stacks.get(id);
    if (!s) {
      s = [];
      for (let at = id; at !== undefined; at = parent.get(at)) s.push(byId.get(at).callFrame);
      stacks.set(id, s);
    }
    return s;
  };
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const stack = stackOf(profile.samples[i]);
    if (callers) {
      const at = stack.findIndex((f) => callers.test(fnName(f)));
      if (at >= 0) add(chains, stack.slice(at, at + 6).map(fnName).join(' < '), us);
    }
    add(self, fnName(stack[0]), us);
    add(fileSelf, fileName(stack[0]), us);
    const seen = new Set();
    const seenFiles = new Set();
    for (const f of stack) {
      const n = fnName(f);
      if (!seen.has(n)) {
        seen.add(n);
        add(total, n, us);
      }
      const file = fileName(f);
      if (!seenFiles.has(file)) {
        seenFiles.add(file);
        add(fileTotal, file, us);
      }
    }
  }
}
const per = (us) => (opt.us ? us / issuances : us / 1000 / issuances).toFixed(opt.us ? 1 : 3);
const top = Number(opt.top);
const list = (title, m, other) => {
  console.log(`\n${title} (${opt.us ? 'µs' : 'ms'} per issuance; ${issuances} issuances)`);
  const rows = [...m].filter(([k]) => !match || match.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of rows) console.log(`${per(us).padStart(7)} ${other ? per(other.get(k) ?? 0).padStart(7) : ''}  ${k}`);
};
if (callers) {
  list(`stacks at ${opt.callers}`, chains);
} else if (opt.files) {
  list('files by self   (self, total)', fileSelf, fileTotal);
  list('files by total  (total, self)', fileTotal, fileSelf);
} else {
  list('functions by self  (self, total)', self, total);
  list('functions by total (total, self)', total, self);
}
