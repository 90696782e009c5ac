import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCANNED = ['src', 'test', 'bench', 'scripts', 'eslint.config.js'];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(ROOT, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isFile()) {
      if (/\.(ts|mjs|js|sh)$/.test(rel)) out.push(rel);
      return;
    }
    for (const name of readdirSync(abs)) if (name !== 'node_modules') walk(path.join(rel, name));
  };
  for (const rel of SCANNED) walk(rel);
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!);
  return new Set(headings.map((h) => h.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

describe('the code\'s references to its design', () => {
  const files = sourceFiles();
  const self = path.relative(ROOT, fileURLToPath(import.meta.url));

  it('point at docs/architecture.md sections that exist', () => {
    const anchors = anchorsOf(readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8'));
    const references = files.flatMap((f) =>
      [...readFileSync(path.join(ROOT, f), 'utf8').matchAll(/docs\/architecture\.md#([a-z0-9-]+)/g)].map((m) => ({ file: f, anchor: m[1]! })),
    );
    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((r) => !anchors.has(r.anchor))).toEqual([]);
  });

  it('name no design notes outside the repository', () => {
    const outside = files
      .filter((f) => f !== self)
      .filter((f) => /\b(DESIGN|STYLE)\.md|shared\/peers\//.test(readFileSync(path.join(ROOT, f), 'utf8')));
    expect(outside).toEqual([]);
  });
});
