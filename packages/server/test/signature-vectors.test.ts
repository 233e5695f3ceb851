import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildVectors, render, VECTORS_PATH, type Vector } from '../../../spec/signature-vectors.mjs';
import { getProfile } from '../src/core/profiles/index.js';
import { signHexSha256, signStandard } from '../src/core/signing.js';

const committed = readFileSync(VECTORS_PATH, 'utf8');
const vectors = (JSON.parse(committed) as { vectors: Vector[] }).vectors;

/** The signature header of a vector, whatever the case of its name. */
function header(v: Vector, name: string): string | undefined {
  return Object.entries(v.headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

/** What the server's signing code produces for this vector's body and headers with one secret. */
function serverSignature(v: Vector, secret: string): string {
  if (v.profile === 'standard') return signStandard([secret], header(v, 'webhook-id')!, Number(header(v, 'webhook-timestamp')), v.body);
  return signHexSha256(secret, v.body);
}

const signatureHeader = { standard: 'webhook-signature', lily: 'x-lily-signature', screenshot: 'x-webhook-signature-256' } as const;

describe('spec/signature-vectors.json against the server\'s signing code', () => {
  it('is what the generator makes from the current profiles and signing code (regenerate: node spec/signature-vectors.mjs)', () => {
    expect(render(buildVectors(getProfile))).toBe(committed);
  });

  it('every valid vector carries the signature the server computes for one of its secrets; the tampered ones do not', () => {
    const signed = vectors.filter((v) => v.expected === 'ok' || (typeof v.expected === 'object' && v.expected.error === 'no_matching_signature'));
    expect(signed.length).toBeGreaterThan(20);
    for (const v of signed) {
      const offered = (header(v, signatureHeader[v.profile]) ?? '').split(' ');
      const matches = v.secrets.some((s) => offered.includes(serverSignature(v, s)));
      expect(matches, v.name).toBe(v.expected === 'ok');
    }
  });
});
