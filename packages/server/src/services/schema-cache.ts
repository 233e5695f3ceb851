/**
 * Compiled event-type schemas kept by this process, least recently used dropped first, bounded
 * by their estimated memory rather than their number: a schema's compiled code and pattern
 * caches grow with what its tenant wrote, and the cache is shared by every tenant.
 */
export class SchemaCache<T extends { bytes: number }> {
  private readonly entries = new Map<string, T>();
  private used = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key); // re-inserted: a Map iterates in insertion order, oldest first
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: T): void {
    this.delete(key);
    this.entries.set(key, value);
    this.used += value.bytes;
    for (const [oldest, v] of this.entries) {
      if (this.used <= this.maxBytes || oldest === key) break;
      this.entries.delete(oldest);
      this.used -= v.bytes;
    }
  }

  delete(key: string): void {
    const value = this.entries.get(key);
    if (!value) return;
    this.entries.delete(key);
    this.used -= value.bytes;
  }
}
