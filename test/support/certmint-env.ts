import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEnvironment } from '../../src/config/env.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** The CERTMINT_* variables certmint's code reads by name (outside the config leaves env.ts maps). */
const directlyRead = new Set(
  (readdirSync(SRC, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .flatMap((f) => [...readFileSync(path.join(SRC, f), 'utf8').matchAll(/\.(CERTMINT_[A-Z0-9_]+)\b|['"](CERTMINT_[A-Z0-9_]+)['"]/g)])
    .map((m) => m[1] ?? m[2]!),
);

/** Whether certmint reads this CERTMINT_* variable: one per config leaf (env.ts), and those its code reads by name. */
export function certmintReads(name: string): boolean {
  const defaults = () => structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const changed = JSON.stringify(applyEnvironment(defaults(), { [name]: 'x' })) !== JSON.stringify(applyEnvironment(defaults(), {}));
  return changed || directlyRead.has(name);
}
