import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

/** The hosts file the system resolver reads (hosts(5)). */
export const SYSTEM_HOSTS_FILE = '/etc/hosts';

/**
 * hosts(5): one address per line, then its canonical name and aliases, `#` to the end of the line
 * a comment. Names are matched without regard to case (RFC 4343). A name listed on several lines
 * gets every address, in file order, as glibc's `files` source answers. A line whose first field
 * is not an address is skipped, as glibc skips it. A zone index (`fe80::1%eth0`) is dropped: a
 * validation connects by address, and link-local ones are refused anyway (address-guard.ts).
 */
export function parseHostsFile(text: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const fields = (hash === -1 ? line : line.slice(0, hash)).split(/[ \t\r\f\v]+/).filter((f) => f !== '');
    const [first, ...aliases] = fields;
    if (first === undefined || aliases.length === 0) continue;
    const address = first.split('%')[0]!;
    if (isIP(address) === 0) continue;
    for (const alias of aliases) {
      const name = alias.toLowerCase().replace(/\.$/, '');
      const addresses = names.get(name);
      if (!addresses) names.set(name, [address]);
      else if (!addresses.includes(address)) addresses.push(address);
    }
  }
  return names;
}

/**
 * A hosts file, read again when its modification time or size changes (as glibc notices an edited
 * /etc/hosts), so an operator's new line counts from the next validation without a restart. It
 * is read synchronously: a stat per lookup is microseconds, and the thread pool is what a lookup
 * must not wait for (resolver.ts).
 */
export class HostsFile {
  private cached: { mtimeMs: number; size: number; names: Map<string, string[]> } | undefined;

  constructor(readonly file: string = SYSTEM_HOSTS_FILE) {}

  /** The addresses the file gives `name` (IPv4 first), or undefined when it does not list it. */
  lookup(name: string): string[] | undefined {
    const found = this.names().get(name.toLowerCase().replace(/\.$/, ''));
    if (!found) return undefined;
    return [...found.filter((a) => isIP(a) === 4), ...found.filter((a) => isIP(a) === 6)];
  }

  private names(): Map<string, string[]> {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(this.file);
    } catch {
      // No hosts file (a minimal container): no names from it, as for the system resolver.
      this.cached = undefined;
      return new Map();
    }
    if (this.cached && this.cached.mtimeMs === stat.mtimeMs && this.cached.size === stat.size) return this.cached.names;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return this.cached?.names ?? new Map();
    }
    this.cached = { mtimeMs: stat.mtimeMs, size: stat.size, names: parseHostsFile(text) };
    return this.cached.names;
  }
}
