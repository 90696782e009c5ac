import { readFileSync, statSync } from 'node:fs';

/** The resolver configuration the system resolver reads (resolv.conf(5)). */
export const SYSTEM_RESOLV_CONF = '/etc/resolv.conf';

/** What of resolv.conf decides which names a lookup tries; c-ares reads the nameservers itself. */
export interface SearchRules {
  /** `search` (or `domain`) suffixes, in order; the last such line wins, as in glibc. */
  readonly search: readonly string[];
  /** `options ndots:n`: a name with at least this many dots is tried as is first (default 1, at most 15). */
  readonly ndots: number;
}

const DEFAULT_RULES: SearchRules = { search: [], ndots: 1 };

/** resolv.conf(5): `search`, `domain` and `options ndots:n`; comments start with `#` or `;`. */
export function parseResolvConf(text: string): SearchRules {
  let search: string[] = [];
  let ndots = 1;
  for (const line of text.split('\n')) {
    const fields = line.split(/[ \t\r]+/).filter((f) => f !== '');
    const [keyword, ...values] = fields;
    if (keyword === undefined || keyword.startsWith('#') || keyword.startsWith(';')) continue;
    const comment = values.findIndex((v) => v.startsWith('#') || v.startsWith(';'));
    const words = comment === -1 ? values : values.slice(0, comment);
    if (keyword === 'search' || keyword === 'domain') {
      search = words.map((w) => w.toLowerCase().replace(/\.$/, '')).filter((w) => w !== '');
    } else if (keyword === 'options') {
      for (const option of words) {
        const m = /^ndots:(\d{1,5})$/.exec(option);
        if (m) ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  return { search, ndots };
}

/**
 * The names getaddrinfo would try for `name` (res_search): with fewer dots than ndots, each search
 * suffix first, then the name as is; otherwise the name first, then the suffixes. So a Kubernetes
 * pod's `web.team.svc` still finds `web.team.svc.cluster.local`, as it did through dns.lookup.
 */
export function searchNames(name: string, rules: SearchRules): string[] {
  const suffixed = rules.search.map((suffix) => `${name}.${suffix}`);
  const dots = name.split('.').length - 1;
  return dots >= rules.ndots ? [name, ...suffixed] : [...suffixed, name];
}

/** resolv.conf's search rules, read again when the file changes (as glibc notices an edit). */
export class ResolvConf {
  private cached: { mtimeMs: number; size: number; rules: SearchRules } | undefined;

  constructor(readonly file: string = SYSTEM_RESOLV_CONF) {}

  rules(): SearchRules {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(this.file);
    } catch {
      this.cached = undefined;
      return DEFAULT_RULES;
    }
    if (this.cached && this.cached.mtimeMs === stat.mtimeMs && this.cached.size === stat.size) return this.cached.rules;
    try {
      this.cached = { mtimeMs: stat.mtimeMs, size: stat.size, rules: parseResolvConf(readFileSync(this.file, 'utf8')) };
    } catch {
      return this.cached?.rules ?? DEFAULT_RULES;
    }
    return this.cached.rules;
  }
}
