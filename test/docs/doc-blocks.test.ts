import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { anchorsOf, docFiles, fencedBlocks, headingAnchor, relativeLinks, smokeScript } from '../../scripts/doc-blocks.mjs';

// The documents' commands are run by scripts/readme-smoke.sh (the <!-- smoke --> blocks) or say
// why not; a block with neither would be a command nobody ever runs. Links between the pages are
// checked here too, since the smoke does not read them.

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(repo, file), 'utf8');

describe('the shell blocks of README.md and docs/*.md', () => {
  it('each carry <!-- smoke --> (```sh only) or <!-- not run: why --> on the line above', () => {
    const unmarked: string[] = [];
    for (const file of docFiles(repo)) {
      for (const block of fencedBlocks(read(file))) {
        const where = `${file}:${block.line} (\`\`\`${block.language})`;
        if (block.shell && block.mark === undefined) unmarked.push(`${where}: no <!-- smoke --> or <!-- not run: why --> above it`);
        if (block.mark === 'smoke' && block.language !== 'sh') unmarked.push(`${where}: <!-- smoke --> marks \`\`\`sh blocks only`);
        if (block.mark === 'config' && block.language !== 'yaml') unmarked.push(`${where}: <!-- config --> marks \`\`\`yaml blocks only`);
      }
    }
    expect(unmarked).toEqual([]);
  });

  it('are run by the smoke in the order of the documents, README first', () => {
    const script = smokeScript(repo);
    const ran = [...script.matchAll(/readme-smoke: (\S+):\d+/g)].map((m) => m[1]);
    expect(ran[0]).toBe('README.md');
    expect(ran).toContain('docs/revocation-and-crls.md');
    expect(script).toContain('npx certmint revoke');
  });

  it('marked <!-- config --> are configs certmint accepts', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'doc-config-'));
    try {
      const configs = docFiles(repo).flatMap((file) => fencedBlocks(read(file)).filter((b) => b.mark === 'config').map((b) => ({ where: `${file}:${b.line}`, code: b.code })));
      expect(configs.length).toBeGreaterThan(0);
      for (const { where, code } of configs) {
        const file = path.join(dir, 'certmint.yaml');
        writeFileSync(file, code);
        expect(() => loadConfig({ file, env: {}, cwd: dir }), where).not.toThrow();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are told apart from the other fenced blocks', () => {
    const text = ['<!-- smoke -->', '```sh', 'echo a', '```', '', '```yaml', 'a: 1', '```', '<!-- not run: needs docker -->', '```console', '$ docker ps', '```', '', '```bash', 'echo c', '```'].join('\n');
    expect(fencedBlocks(text).map((b) => [b.line, b.language, b.mark, b.reason, b.code])).toEqual([
      [2, 'sh', 'smoke', undefined, 'echo a'],
      [6, 'yaml', undefined, undefined, 'a: 1'],
      [10, 'console', 'not run', 'needs docker', '$ docker ps'],
      [14, 'bash', undefined, undefined, 'echo c'],
    ]);
  });
});

describe('the relative links of README.md and docs/*.md', () => {
  it('point at files that exist, and at headings that exist', () => {
    const broken: string[] = [];
    for (const file of docFiles(repo)) {
      for (const { line, target } of relativeLinks(read(file))) {
        const [pathPart, anchor] = target.split('#') as [string, string | undefined];
        const resolved = pathPart === '' ? path.join(repo, file) : path.resolve(path.dirname(path.join(repo, file)), pathPart);
        if (!existsSync(resolved)) {
          broken.push(`${file}:${line}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
          broken.push(`${file}:${line}: ${target} (no heading #${anchor})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('name headings the way GitHub does', () => {
    expect(headingAnchor("Behind a proxy: which address is the client's")).toBe('behind-a-proxy-which-address-is-the-clients');
    expect(headingAnchor('IP addresses: which clients send `ip` identifiers')).toBe('ip-addresses-which-clients-send-ip-identifiers');
    expect(relativeLinks('see [a](docs/a.md#x) and [b](https://x.org) `[c](d.md)`')).toEqual([{ line: 1, target: 'docs/a.md#x' }]);
  });
});
