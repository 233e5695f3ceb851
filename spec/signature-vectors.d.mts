// Types for signature-vectors.mjs (a plain Node script, so it runs without a build step).
export type Expected = 'ok' | { error: string };
export interface Vector {
  name: string;
  profile: 'standard' | 'lily' | 'screenshot';
  secrets: string[];
  headers: Record<string, string>;
  body: string;
  /** Seconds since the epoch. */
  now: number;
  /** Seconds. */
  tolerance: number;
  expected: Expected;
}
export interface VectorsDocument {
  description: string;
  usage: string;
  profiles: Record<string, string>;
  vectors: Vector[];
}
export const T: number;
export const VECTORS_PATH: string;
export function buildVectors(getProfile: (name: string) => unknown): VectorsDocument;
export function render(doc: VectorsDocument): string;
