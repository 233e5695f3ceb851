import { readFileSync } from 'node:fs';
import type { Vector, VectorsDocument } from '../../../spec/signature-vectors.mjs';

/** spec/signature-vectors.json, the language-neutral vectors every verifier must agree with. */
export const VECTORS: Vector[] = (JSON.parse(readFileSync(new URL('../../../spec/signature-vectors.json', import.meta.url), 'utf8')) as VectorsDocument).vectors;

export const expectedReason = (v: Vector): string => (v.expected === 'ok' ? 'ok' : v.expected.error);
