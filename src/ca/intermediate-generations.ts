import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../core/atomic-file.js';
import { CaError, errorCode, errorText } from './ca-file-io.js';

/*
 * Intermediate generations (certmint ca rotate-intermediate). Generation 1 is the intermediate
 * `ca init` made, in intermediate.key.pem / intermediate.pem; generation n >= 2 lives in
 * intermediate-<n>.key.pem / intermediate-<n>.pem. All of them stay loaded: an old one no longer
 * signs leaves but keeps signing the CRL of the leaves it issued until the last of them expires.
 * `active-intermediate` names the generation that signs new leaves; without it, generation 1.
 */

export interface IntermediateFilePaths {
  readonly key: string;
  readonly cert: string;
}

export function intermediateFilePaths(dir: string, generation: number): IntermediateFilePaths {
  const base = generation === 1 ? 'intermediate' : `intermediate-${generation}`;
  return { key: join(dir, `${base}.key.pem`), cert: join(dir, `${base}.pem`) };
}

export function activeIntermediateFile(dir: string): string {
  return join(dir, 'active-intermediate');
}

const GENERATION_FILE = /^intermediate-([1-9][0-9]{0,5})\.(?:key\.)?pem$/;

/** Every generation with a file in `dir`, ascending; generation 1 always (its files are the base CA's). */
export function intermediateGenerations(dir: string): Promise<number[]> {
  return generationsIn(dir, GENERATION_FILE);
}

/** The numbers `pattern` (one group) finds in the file names of `dir`, with 1, ascending. */
export async function generationsIn(dir: string, pattern: RegExp): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new CaError(`cannot list the CA directory ${dir}: ${errorText(e)}`);
  }
  const found = new Set<number>([1]);
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

/** The generation that signs new leaves. */
export async function readActiveGeneration(dir: string): Promise<number> {
  const file = activeIntermediateFile(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return 1;
    throw new CaError(`CA file ${file} cannot be read: ${errorText(e)}`);
  }
  const value = text.trim();
  if (!/^[1-9][0-9]{0,5}$/.test(value)) {
    throw new CaError(`CA file ${file} should hold the number of the active intermediate generation but holds "${value.slice(0, 40)}"`);
  }
  return Number(value);
}

/** Replaces `active-intermediate` atomically (core/atomic-file: whole old or whole new after a crash). */
export async function writeActiveGeneration(dir: string, generation: number): Promise<void> {
  const file = activeIntermediateFile(dir);
  try {
    await writeFileAtomically(file, `${generation}\n`, { mode: 0o644 });
  } catch (e) {
    throw new CaError(`cannot write ${file}: ${errorText(e)}`);
  }
}
