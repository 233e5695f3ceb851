import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What every sealed value starts with. */
export const SEALED_PREFIX = 'enc:v1:';

/** HERALD_ENCRYPTION_KEY's bytes: 64 hex characters or base64 of exactly 32 bytes; null otherwise. */
export function decodeEncryptionKey(encoded: string): Buffer | null {
  const v = encoded.trim();
  if (/^[0-9a-f]{64}$/i.test(v)) return Buffer.from(v, 'hex');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return null;
  const key = Buffer.from(v, 'base64');
  return key.length === 32 ? key : null;
}

/**
 * Endpoint signing secrets at rest. With a key (HERALD_ENCRYPTION_KEY: 32 bytes, base64 or hex)
 * every secret written is sealed with AES-256-GCM (random 96-bit IV, 128-bit tag), stored as
 * `enc:v1:` + base64(iv | tag | ciphertext). Values without the prefix are read as they are, so
 * turning encryption on for an existing database needs no migration (Herald seals the old ones
 * when it starts with a key). Without a key secrets are stored as given.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer | null) {}

  static plaintext(): SecretBox {
    return new SecretBox(null);
  }

  /** Parses HERALD_ENCRYPTION_KEY; throws a clear error for anything but 32 bytes. */
  static fromKey(encoded: string | undefined): SecretBox {
    if (!encoded) return SecretBox.plaintext();
    const key = decodeEncryptionKey(encoded);
    if (!key) throw new Error('HERALD_ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (e.g. `openssl rand -base64 32`)');
    return new SecretBox(key);
  }

  get encrypts(): boolean {
    return this.key !== null;
  }

  seal(secret: string): string {
    if (!this.key || secret.startsWith(SEALED_PREFIX)) return secret;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(stored: string): string;
  open(stored: string | null): string | null;
  open(stored: string | null): string | null {
    if (stored === null || !stored.startsWith(SEALED_PREFIX)) return stored;
    if (!this.key) throw new Error('an endpoint secret is encrypted but HERALD_ENCRYPTION_KEY is not set');
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    // A wrong key fails the tag check here rather than signing with garbage.
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

}
