import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { writeFileAtomically } from '../core/atomic-file.js';

/*
 * The backup archive: a gzip'd POSIX ustar tar (regular files and directories only), so an
 * operator can look inside with `tar tzf` and unpack it with `tar xzf`. A hand-written writer and
 * reader of ~150 lines rather than the npm `tar` package: we need two entry types and
 * short names, and the reader must refuse anything else (links, devices, absolute or `..` names)
 * instead of extracting it, which is simpler to guarantee in code we own. Both stream, so a
 * large ledger never sits in memory.
 */

const BLOCK = 512;
/** GNU tar's default record (blocking factor 20); the archive is padded to a whole record. */
const RECORD = 20 * BLOCK;

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

export type ArchiveEntry =
  | { readonly type: 'directory'; readonly name: string; readonly mode: number; readonly mtime: Date }
  | {
      readonly type: 'file';
      readonly name: string;
      readonly mode: number;
      readonly mtime: Date;
      readonly size: number;
      /** The contents, or a file to stream them from (it must still be `size` bytes long). */
      readonly source: Buffer | { readonly path: string };
    };

export interface EntryHeader {
  readonly type: 'file' | 'directory';
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: Date;
}

/** Receives one file's contents in order; `end` after the last byte. */
export interface EntrySink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

/**
 * Writes the archive to `file` (0600) through core/atomic-file under a hidden `.…partial` name:
 * an interrupted write leaves only that, never a file at `file` that looks complete.
 */
export async function writeArchive(file: string, entries: readonly ArchiveEntry[]): Promise<void> {
  await writeFileAtomically(
    file,
    async (handle) => {
      // A failed write (a full disk) ends the pipeline, which then reports the gzip stream it tore
      // down ("AbortError") instead: keep the write's own error, the one an operator can act on.
      let writeError: unknown;
      await pipeline(Readable.from(tarBlocks(entries)), createGzip(), async (gzipped: AsyncIterable<Buffer>) => {
        for await (const chunk of gzipped) {
          await handle.write(chunk).catch((e: unknown) => {
            writeError = e;
            throw e;
          });
        }
      }).catch((e: unknown) => {
        throw writeError ?? e;
      });
    },
    { mode: 0o600, tempSuffix: '.partial' },
  );
}

async function* tarBlocks(entries: readonly ArchiveEntry[]): AsyncGenerator<Buffer> {
  let written = 0;
  for (const entry of entries) {
    const size = entry.type === 'file' ? entry.size : 0;
    yield header(entry, size);
    written += BLOCK;
    if (entry.type === 'directory') continue;
    let seen = 0;
    const chunks = Buffer.isBuffer(entry.source) ? [entry.source] : createReadStream(entry.source.path);
    for await (const chunk of chunks as AsyncIterable<Buffer> | Buffer[]) {
      seen += chunk.length;
      if (seen > size) break;
      yield chunk;
    }
    if (seen !== size) throw new ArchiveError(`${entry.name} changed while it was archived (${seen} bytes, expected ${size})`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
    written += size + pad;
  }
  // Two zero blocks end a tar; then zeros up to a whole record.
  const end = 2 * BLOCK;
  yield Buffer.alloc(end + ((RECORD - ((written + end) % RECORD)) % RECORD));
}

function header(entry: ArchiveEntry, size: number): Buffer {
  const name = entry.type === 'directory' ? `${entry.name}/` : entry.name;
  checkName(entry.name);
  if (Buffer.byteLength(name) > 100) throw new ArchiveError(`${name} is longer than a ustar name (100 bytes)`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, entry.mode & 0o7777);
  octal(h, 108, 8, 0); // uid, gid: 0; restore gives files to whoever runs it
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  h.write(entry.type === 'directory' ? '5' : '0', 156, 1, 'latin1');
  h.write('ustar\u000000', 257, 8, 'latin1');
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  octal(h, 148, 7, checksum(h));
  return h;
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new ArchiveError(`${value} does not fit a ${length}-byte tar field`);
  buf.write(`${digits.padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** A relative path of plain segments: no absolute path, no `.` or `..`, no empty segment, no backslash. */
function checkName(name: string): void {
  const ok = name !== '' && !name.startsWith('/') && !name.includes('\\') && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok || name.includes('\u0000')) throw new ArchiveError(`the archive entry name ${JSON.stringify(name)} is not a plain relative path`);
}

function parseHeader(h: Buffer): EntryHeader {
  if (h.toString('latin1', 257, 262) !== 'ustar') throw new ArchiveError('not a ustar archive (bad magic): corrupt, or not a certmint backup');
  const stored = parseOctal(h, 148, 8);
  if (stored !== checksum(h)) throw new ArchiveError('a tar header fails its checksum: the archive is corrupt');
  const flag = h.toString('latin1', 156, 157);
  const prefix = cString(h, 345, 155);
  const raw = cString(h, 0, 100);
  const full = prefix ? `${prefix}/${raw}` : raw;
  let type: EntryHeader['type'];
  if (flag === '0' || flag === '\u0000') type = 'file';
  else if (flag === '5') type = 'directory';
  else throw new ArchiveError(`${full} is a tar entry of type "${flag}"; a certmint backup holds only files and directories`);
  const name = type === 'directory' ? full.replace(/\/$/, '') : full;
  checkName(name);
  const size = parseOctal(h, 124, 12);
  if (type === 'directory' && size !== 0) throw new ArchiveError(`the directory entry ${name} has a size`);
  return { type, name, mode: parseOctal(h, 100, 8) & 0o7777, size, mtime: new Date(parseOctal(h, 136, 12) * 1000) };
}

function cString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

function parseOctal(buf: Buffer, offset: number, length: number): number {
  const field = buf.toString('latin1', offset, offset + length);
  const nul = field.indexOf('\u0000');
  const text = (nul === -1 ? field : field.slice(0, nul)).trim();
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError('a tar header holds a malformed number: the archive is corrupt');
  return parseInt(text, 8);
}

/**
 * Reads the archive in `file` entry by entry: `visit` gets each header and returns where the
 * file's contents go (undefined: skipped). Throws ArchiveError on a corrupt or truncated archive
 * (zlib's own error for a broken gzip stream), after `visit` may have seen earlier entries:
 * callers that must not act on a bad archive read it once to check it, then again to act.
 */
export async function readArchive(file: string, visit: (entry: EntryHeader) => EntrySink | undefined): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let body: { remaining: number; pad: number; sink: EntrySink | undefined } | undefined;
  let zeroBlocks = 0;
  const consume = async (): Promise<void> => {
    for (;;) {
      if (zeroBlocks === 2) return; // past the end: the rest is record padding
      if (body) {
        const n = Math.min(body.remaining, pending.length);
        if (n > 0) await body.sink?.write(pending.subarray(0, n));
        pending = pending.subarray(n);
        body.remaining -= n;
        if (body.remaining > 0 || pending.length < body.pad) return;
        pending = pending.subarray(body.pad);
        await body.sink?.end();
        body = undefined;
        continue;
      }
      if (pending.length < BLOCK) return;
      const block = pending.subarray(0, BLOCK);
      pending = pending.subarray(BLOCK);
      if (block.every((b) => b === 0)) {
        zeroBlocks++;
        continue;
      }
      if (zeroBlocks > 0) throw new ArchiveError('a zero block in the middle of the archive: it is corrupt');
      const entry = parseHeader(block);
      body = { remaining: entry.size, pad: (BLOCK - (entry.size % BLOCK)) % BLOCK, sink: visit(entry) };
    }
  };
  // Not pipeline(): when the consumer throws, pipeline() reports an AbortError instead of our error.
  const input = createReadStream(file);
  const plain = input.pipe(createGunzip());
  input.once('error', (e) => plain.destroy(e));
  try {
    for await (const chunk of plain as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      await consume();
    }
  } finally {
    input.destroy();
  }
  if (zeroBlocks < 2) throw new ArchiveError('the archive ends early (no end-of-archive blocks): it is truncated');
}
