import { join } from 'node:path';
import { generationsIn } from './intermediate-generations.js';

/*
 * Root generations (certmint ca rotate-root). Root 1 is the root `ca init` made, in root.key.pem /
 * root.pem; root n >= 2 lives in root-<n>.key.pem / root-<n>.pem, with root-<n>-cross.pem: the
 * same subject and public key, issued by root n-1, so that clients that trust only the older root
 * still reach the new one. Every root stays loaded and trusted (/roots.pem) until it is removed by
 * hand: each signs the CRL of the intermediates it issued. The newest root signs new intermediates.
 */

export interface RootFilePaths {
  readonly key: string;
  readonly cert: string;
  /** Root n >= 2 only: its cross certificate, signed by root n-1. */
  readonly cross: string | undefined;
}

export function rootFilePaths(dir: string, generation: number): RootFilePaths {
  if (generation === 1) return { key: join(dir, 'root.key.pem'), cert: join(dir, 'root.pem'), cross: undefined };
  const base = `root-${generation}`;
  return { key: join(dir, `${base}.key.pem`), cert: join(dir, `${base}.pem`), cross: join(dir, `${base}-cross.pem`) };
}

const ROOT_FILE = /^root-([1-9][0-9]{0,5})\.(?:key\.)?pem$/;

/** Every root generation with a file in `dir`, ascending; root 1 always (its files are the base CA's). */
export function rootGenerations(dir: string): Promise<number[]> {
  return generationsIn(dir, ROOT_FILE);
}
