import { Option, type Command } from 'commander';

/** The output options every list command shares (certs list, accounts list, audit). */
export interface ListingOptions {
  readonly limit: string;
  readonly all?: boolean;
  readonly json?: boolean;
  readonly jsonl?: boolean;
}

/** Where a list goes: stdout a page at a time (resolving once the stream took it), and a notice for stderr. */
export interface ListingOutput {
  write(text: string): Promise<void>;
  notice(text: string): void;
}

/**
 * Rows read from the ledger per query. --all pages through the ledger this many at a time
 * (keyset pagination), so 100,000 certificates never sit in memory at once.
 */
export const LISTING_PAGE_SIZE = 1000;

/** One list command's rows: how to read a page after a row, count them all, and print one. */
export interface Listing<Row, Cursor> {
  page(limit: number, after: Cursor | undefined): Promise<readonly Row[]>;
  cursor(row: Row): Cursor;
  /** How many rows the list has without a limit: one COUNT with the same filters. */
  count(): Promise<number>;
  json(row: Row): unknown;
  /** Column titles of the table, if it has a header line. */
  readonly header?: readonly string[];
  /** Table cells; every column but the last is padded to its width. */
  cells(row: Row): readonly string[];
  /** What the table says for no rows (default: the header alone). */
  readonly empty?: string;
}

/** --limit, --all, --json and --jsonl on a list command, described alike everywhere. */
export function listingOptions(command: Command, noun: string): Command {
  return command
    .option('--limit <n>', `at most this many ${noun}; a list cut short says so on stderr`, '1000')
    .option('--all', `all ${noun}, read from the ledger ${LISTING_PAGE_SIZE} at a time (--limit is ignored)`)
    .addOption(new Option('--json', 'one JSON array of objects (printed as it is read, parsed whole)').conflicts('jsonl'))
    .option('--jsonl', 'JSON Lines: one object per line, the same objects as --json, for streaming to jq or a script');
}

/** --limit as a number; a UsageError-like message when it is not a positive whole number. */
export function parseLimit(o: ListingOptions, usageError: (message: string) => Error): number {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit must be a positive whole number, not "${o.limit}"`);
  return limit;
}

/**
 * Prints a list page by page as a table, a JSON array or JSON Lines. When --limit cut it, says so
 * on stderr ("1000 of 1600 shown; --limit N or --all"), so nobody takes the first 1000 for all;
 * the count is asked only when a full --limit came back.
 */
export async function printListing<Row, Cursor>(listing: Listing<Row, Cursor>, o: ListingOptions, limit: number, out: ListingOutput): Promise<void> {
  const max = o.all ? Infinity : limit;
  const table = new TableWriter(listing.header);
  let shown = 0;
  let after: Cursor | undefined;
  while (shown < max) {
    const wanted = Math.min(LISTING_PAGE_SIZE, max - shown);
    const rows = await listing.page(wanted, after);
    if (rows.length === 0) break;
    if (o.jsonl) {
      await out.write(rows.map((r) => `${JSON.stringify(listing.json(r))}\n`).join(''));
    } else if (o.json) {
      // Exactly JSON.stringify(array, null, 2), one page at a time.
      await out.write(rows.map((r, i) => `${shown + i === 0 ? '[\n' : ',\n'}${JSON.stringify(listing.json(r), null, 2).replace(/^/gm, '  ')}`).join(''));
    } else {
      await out.write(table.lines(rows.map((r) => listing.cells(r)), shown === 0));
    }
    shown += rows.length;
    after = listing.cursor(rows.at(-1)!);
    if (rows.length < wanted) break;
  }
  if (o.json) await out.write(shown === 0 ? '[]\n' : '\n]\n');
  else if (!o.jsonl && shown === 0) await out.write(listing.empty ?? table.lines([], true));
  if (!o.all && shown === limit) {
    const total = await listing.count();
    if (total > shown) out.notice(`${shown} of ${total} shown; --limit N or --all\n`);
  }
}

/**
 * A table printed a page at a time: each column as wide as its widest cell so far (a later page
 * may widen it; one page of up to 1000 rows, the default, is aligned as a whole).
 */
class TableWriter {
  private widths: number[];

  constructor(private readonly header: readonly string[] | undefined) {
    this.widths = header ? header.map((h) => h.length) : [];
  }

  lines(rows: readonly (readonly string[])[], first: boolean): string {
    for (const cells of rows) cells.forEach((c, i) => (this.widths[i] = Math.max(this.widths[i] ?? 0, c.length)));
    const all = first && this.header ? [this.header, ...rows] : rows;
    return all.map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(this.widths[i]!))).join('  ').trimEnd() + '\n').join('');
  }
}
