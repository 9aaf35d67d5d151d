import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The only AEAD Ward uses for PHI at rest (FIPS 140 approved; COMPLIANCE 170.210(a)(2)). */
export const PHI_CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface DataKey {
  readonly keyId: string;
  readonly key: Buffer;
}

/** A sealed record: the key that sealed it, its nonce, and ciphertext with the GCM tag appended. */
export interface SealedBox {
  readonly keyId: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
}

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

/** AES-256-GCM under `dataKey` with a fresh random 96-bit nonce; `aad` binds the box to its row. */
export function seal(dataKey: DataKey, plaintext: Buffer, aad: Buffer): SealedBox {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(PHI_CIPHER, dataKey.key, iv);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const last = cipher.final();
  return { keyId: dataKey.keyId, iv, ciphertext: Buffer.concat([body, last, cipher.getAuthTag()]) };
}

/** Opens a box; any change to nonce, ciphertext, tag or AAD throws IntegrityError, never altered data. */
export function open(dataKey: DataKey, box: SealedBox, aad: Buffer): Buffer {
  if (box.keyId !== dataKey.keyId) throw new IntegrityError('sealed with a different key');
  if (box.iv.length !== IV_BYTES || box.ciphertext.length < TAG_BYTES) throw new IntegrityError('sealed box is truncated');
  const decipher = createDecipheriv(PHI_CIPHER, dataKey.key, box.iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(box.ciphertext.subarray(box.ciphertext.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(box.ciphertext.subarray(0, box.ciphertext.length - TAG_BYTES)), decipher.final()]);
  } catch (e) {
    throw new IntegrityError('ciphertext failed authentication', { cause: e });
  }
}
