import { readFileSync } from 'node:fs';

/**
 * certmint's version, from the package.json beside dist/ (npm packs it, and the container image
 * copies it). Read once, when first asked: `certmint --version` and /metrics's build_info.
 */
let cached: string | undefined;
export function certmintVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
