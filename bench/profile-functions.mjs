// Issue 27, the HTTP layer: a V8 CPU profile (bench/profile.mjs --keep) read function by function.
// Self time (the sampled frame) and total time (the frame anywhere on the stack, counted once per
// sample), per issuance, over the load's window only; self time also summed by file. `--match RE`
// keeps the functions whose file matches (e.g. 'fastify|_http|net|tls|dist/acme').
//
//   node bench/profile-functions.mjs bench/results/profile-<date>.json [--top 40] [--match RE] [--us]
//
// --us: microseconds instead of milliseconds (bench/http-layer.mjs --profile: per request).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, match: { type: 'string' }, us: { type: 'boolean', default: false } },
});
const result = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(opt.top);
const match = opt.match ? new RegExp(opt.match) : undefined;
const issuances = result.attribution.issuances;
const { fromUs = -Infinity, toUs = Infinity } = result.window ?? {};

const file = (url) => url.replace(/^.*\/(dist|node_modules)\//, '$1/') || 'native';
const name = (f) => `${f.functionName || '(anonymous)'} (${file(f.url)}${f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : ''})`;
const self = new Map();
const total = new Map();
const byFile = new Map();
let windowUs = 0;
for (const path of result.cpuprofile.split(' ')) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map();
  const stackOf = (id) => {
    if (!stacks.has(id)) {
      const names = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) names.add(name(byId.get(at).callFrame));
      stacks.set(id, [...names]);
    }
    return stacks.get(id);
  };
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    windowUs += us;
    const frame = byId.get(profile.samples[i]).callFrame;
    if (frame.functionName === '(idle)') continue;
    self.set(name(frame), (self.get(name(frame)) ?? 0) + us);
    byFile.set(file(frame.url), (byFile.get(file(frame.url)) ?? 0) + us);
    for (const n of stackOf(profile.samples[i])) total.set(n, (total.get(n) ?? 0) + us);
  }
}
const ms = (us) => (opt.us ? (us / issuances).toFixed(2) : (us / 1000 / issuances).toFixed(3));
const keep = ([n]) => !match || match.test(n);
const print = (title, map) => {
  console.log(`\n${title} (${opt.us ? 'µs' : 'ms'} per issuance; ${issuances} issuances, window ${Math.round(windowUs / 1000)} ms)`);
  for (const [n, us] of [...map].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us).padStart(8)}  ${n}`);
};
print('self time by file', byFile);
print('self time by function', self);
print('total time by function', total);
