// Types of scripts/doc-blocks.mjs for test/docs/doc-blocks.test.ts.
export interface FencedBlock {
  readonly line: number;
  readonly language: string;
  readonly shell: boolean;
  readonly mark: 'smoke' | 'not run' | 'config' | undefined;
  readonly reason: string | undefined;
  readonly code: string;
}
export declare const DOC_ORDER: readonly string[];
export declare function docFiles(repo: string): string[];
export declare function fencedBlocks(text: string): FencedBlock[];
export declare function headingAnchor(heading: string): string;
export declare function anchorsOf(text: string): Set<string>;
export declare function relativeLinks(text: string): { line: number; target: string }[];
export declare function smokeScript(repo: string): string;
