import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type KeyProvider, KeyProviderError } from './key-provider.js';

const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * KeyProvider over a local key file holding 32 random bytes (base64), mode 0600.
 * Wrapping is AES-256-GCM under the KEK with a fresh 96-bit nonce and the key's context
 * (its key id) as AAD, so a wrapped key cannot be swapped for another key's row.
 */
export class LocalKeyFileProvider implements KeyProvider {
  readonly kekId: string;
  readonly #kek: Buffer;

  private constructor(kek: Buffer) {
    if (kek.length !== KEK_BYTES) throw new TypeError(`root key must be ${KEK_BYTES} bytes, found ${kek.length}`);
    this.#kek = kek;
    this.kekId = `local:${createHash('sha256').update('ward kek id').update(kek).digest('hex').slice(0, 16)}`;
  }

  /** Opens the key file, creating it (0600, parent 0700) when absent and `create` is set. */
  static open(path: string, options: { create: boolean }): LocalKeyFileProvider {
    let text: string;
    try {
      const mode = statSync(path).mode & 0o777;
      // The KEK protects every record: refuse a key file others can read (HHS key separation guidance).
      if ((mode & 0o077) !== 0) throw new TypeError(`root key file ${path} must be mode 0600 (found ${mode.toString(8)})`);
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!options.create) throw new KeyProviderError(`root key file ${path} does not exist`);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      text = `${randomBytes(KEK_BYTES).toString('base64')}\n`;
      writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
    }
    return new LocalKeyFileProvider(Buffer.from(text.trim(), 'base64'));
  }

  async wrap(dataKey: Buffer, context: string): Promise<Buffer> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#kek, iv);
    cipher.setAAD(Buffer.from(`ward:wrap:v1:${context}`));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  }

  async unwrap(wrapped: Buffer, context: string): Promise<Buffer> {
    if (wrapped.length < IV_BYTES + TAG_BYTES + 1) throw new KeyProviderError('wrapped key is truncated');
    const iv = wrapped.subarray(0, IV_BYTES);
    const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#kek, iv);
    decipher.setAAD(Buffer.from(`ward:wrap:v1:${context}`));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)), decipher.final()]);
    } catch (e) {
      throw new KeyProviderError('a data key failed to unwrap under this root key', { cause: e });
    }
  }
}
