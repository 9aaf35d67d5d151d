import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import type { Hash } from './merkle.js';

/**
 * A signed tree head: the audit log's size and Merkle root at a moment, signed with the audit
 * key (Ed25519). The signed bytes are RFC 6962 §3.5's TreeHeadSignature, so a third party can
 * check a head with any Ed25519 tool:
 *
 *   0x00 (v1) ‖ 0x01 (tree_hash) ‖ uint64 timestamp (ms since the epoch, big-endian)
 *   ‖ uint64 tree_size (big-endian) ‖ root_hash (32 bytes)
 */
export interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: Hash;
  /** Milliseconds since the Unix epoch, UTC. */
  readonly timestamp: number;
  /** SHA-256 of the signing key's SubjectPublicKeyInfo (DER), hex: which key signed. */
  readonly keyId: string;
  readonly signature: Buffer;
}

export function treeHeadMessage(treeSize: number, timestamp: number, rootHash: Hash): Buffer {
  if (rootHash.length !== 32) throw new RangeError('root hash must be 32 bytes');
  const message = Buffer.alloc(2 + 8 + 8 + 32);
  message[0] = 0x00;
  message[1] = 0x01;
  message.writeBigUInt64BE(BigInt(timestamp), 2);
  message.writeBigUInt64BE(BigInt(treeSize), 10);
  rootHash.copy(message, 18);
  return message;
}

export function auditKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export function signTreeHead(privateKey: KeyObject, publicKey: KeyObject, treeSize: number, timestamp: number, rootHash: Hash): TreeHead {
  // Ed25519 signs the message itself (no separate digest), hence the null algorithm.
  const signature = sign(null, treeHeadMessage(treeSize, timestamp, rootHash), privateKey);
  return { treeSize, rootHash, timestamp, keyId: auditKeyId(publicKey), signature };
}

export function treeHeadSignatureValid(publicKey: KeyObject, head: TreeHead): boolean {
  if (head.keyId !== auditKeyId(publicKey) || head.rootHash.length !== 32) return false;
  try {
    return verify(null, treeHeadMessage(head.treeSize, head.timestamp, head.rootHash), publicKey, head.signature);
  } catch {
    return false;
  }
}

/** The JSON form of a head, as the witness file and `/.well-known/ward-audit-key` readers see it. */
export interface TreeHeadJson {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly timestamp: number;
  readonly time: string;
  readonly keyId: string;
  readonly signature: string;
}

export function treeHeadToJson(head: TreeHead): TreeHeadJson {
  return {
    treeSize: head.treeSize,
    rootHash: head.rootHash.toString('hex'),
    timestamp: head.timestamp,
    time: new Date(head.timestamp).toISOString(),
    keyId: head.keyId,
    signature: head.signature.toString('base64'),
  };
}

/** Parses one head from JSON; undefined when it is not a well-formed head. */
export function treeHeadFromJson(value: unknown): TreeHead | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.treeSize) || (v.treeSize as number) < 0) return undefined;
  if (!Number.isSafeInteger(v.timestamp) || (v.timestamp as number) < 0) return undefined;
  if (typeof v.rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(v.rootHash)) return undefined;
  if (typeof v.keyId !== 'string' || !/^[0-9a-f]{64}$/.test(v.keyId)) return undefined;
  if (typeof v.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v.signature)) return undefined;
  return {
    treeSize: v.treeSize as number,
    timestamp: v.timestamp as number,
    rootHash: Buffer.from(v.rootHash, 'hex'),
    keyId: v.keyId,
    signature: Buffer.from(v.signature, 'base64'),
  };
}
