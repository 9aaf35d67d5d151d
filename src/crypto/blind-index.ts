import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Blind indexes: HMAC-SHA-256 of normalised identifying values under a key that is separate from
 * every encryption key (HKDF-SHA-256 with its own label), so equality can be searched without
 * storing the value (ARCHITECTURE.md, Search over encrypted data).
 */
export class BlindIndexer {
  readonly #key: Buffer;

  constructor(rootSecret: Buffer) {
    if (rootSecret.length !== 32) throw new TypeError('blind-index secret must be 32 bytes');
    this.#key = Buffer.from(hkdfSync('sha256', rootSecret, Buffer.alloc(0), 'ward blind-index v1', 32));
  }

  /** Hashes the parts joined by a unit separator, which cannot occur in normalised values. */
  hash(...parts: readonly string[]): Buffer {
    return createHmac('sha256', this.#key).update(parts.join('\u001f')).digest();
  }

  /** The same hash as lowercase hex: what index writes store, without a Buffer per hash. */
  hashHex(...parts: readonly string[]): string {
    return createHmac('sha256', this.#key).update(parts.join('\u001f')).digest('hex');
  }
}
