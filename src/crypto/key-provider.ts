/**
 * The root key-encryption key (KEK) lives outside the database, behind this interface:
 * a local key file now, an HSM or cloud KMS later (ARCHITECTURE.md, Keys). Ward never asks a
 * provider for the KEK itself, only to wrap and unwrap data keys, so a KMS adapter fits as is.
 */
export interface KeyProvider {
  /** Identifies the KEK; stored beside every wrapped data key so rotation knows what to re-wrap. */
  readonly kekId: string;
  wrap(dataKey: Buffer, context: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, context: string): Promise<Buffer>;
}

export class KeyProviderError extends Error {
  override readonly name = 'KeyProviderError';
}
