import { type Hash, leafHash } from './merkle.js';

/**
 * The leaf of one audit entry: SHA-256(0x00 ‖ uint64 seq ‖ UTF-8 canonical JSON), the same bytes
 * the insert trigger hashes (ADR 0002). Binding the number into the leaf means an entry moved to
 * another position no longer matches its leaf.
 */
export function entryLeafHash(seq: number, entry: string): Hash {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  return leafHash(Buffer.concat([seqBytes, Buffer.from(entry, 'utf8')]));
}
