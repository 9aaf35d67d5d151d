import type { KeyObject } from 'node:crypto';
import {
  countAuditRowsBefore,
  findArchiveOf,
  type Queryable,
  readAuditRows,
  readHeads,
  readLeafRows,
  readNewestHead,
} from '../store/index.js';
import { entryLeafHash } from './entry-leaf.js';
import { CompactRange, inclusionProofRanges } from './merkle.js';
import { auditKeyId, type TreeHeadJson, treeHeadToJson } from './tree-head.js';

export class AuditProofError extends Error {
  override readonly name = 'AuditProofError';
}

/**
 * What `ward audit prove <seq>` prints: everything a third party needs to check, with SHA-256
 * and Ed25519 alone, that the entry is in the log the signed head commits to (docs/operations.md,
 * "Checking an inclusion proof").
 */
export interface InclusionProofDocument {
  readonly seq: number;
  readonly leafIndex: number;
  /** The entry's canonical JSON, exactly the bytes hashed into its leaf after the 8-byte number. */
  readonly entry: string;
  readonly leafHash: string;
  readonly treeHead: TreeHeadJson;
  readonly inclusionProof: readonly string[];
  readonly auditKey: { readonly keyId: string; readonly publicKeyPem: string };
}

/** Builds the proof against the newest signed head in one pass over the sealed leaves. */
export async function proveEntry(db: Queryable, seq: number, publicKey: KeyObject, pageSize = 5000): Promise<InclusionProofDocument> {
  const head = await readNewestHead(db);
  if (!head || head.lastSeq < seq)
    throw new AuditProofError(`entry ${seq} is not sealed yet; the newest head covers entries up to ${head?.lastSeq ?? 0}`);
  const gaps = new Set<number>();
  for (let after = 0; ; ) {
    const page = await readHeads(db, after, 1000);
    if (page.length === 0) break;
    for (const h of page) for (const g of h.gaps) gaps.add(g);
    after = page[page.length - 1]?.treeSize ?? after;
  }
  const target = (await readAuditRows(db, { afterSeq: seq - 1, throughSeq: seq, limit: 1 }))[0];
  if (!target) {
    const archive = await findArchiveOf(db, seq);
    // Its entry left the database with its partition; the archive file holds it and its proof.
    if (archive)
      throw new AuditProofError(
        `entry ${seq} is archived: partition ${archive.partition} (${archive.from.toISOString().slice(0, 7)}, entries ${archive.firstSeq}-${archive.lastSeq}) was exported on ${archive.archivedAt.toISOString()} to ${archive.file} (sha256 ${archive.sha256}) with its inclusion proof against the head of tree size ${archive.headTreeSize}`,
      );
  }
  if (!target || gaps.has(seq)) throw new AuditProofError(`no sealed entry has number ${seq}`);
  const leafIndex = await countAuditRowsBefore(db, seq, [...gaps]);

  const ranges = inclusionProofRanges(leafIndex, head.treeSize);
  const hashers = ranges.map(() => CompactRange.empty());
  const whole = CompactRange.empty();
  let index = 0;
  for (let after = 0; ; ) {
    const rows = await readLeafRows(db, { afterSeq: after, throughSeq: head.lastSeq, limit: pageSize });
    if (rows.length === 0) break;
    for (const row of rows) {
      const rowSeq = row.kind === 'entry' ? row.row.seq : row.seq;
      after = rowSeq;
      if (gaps.has(rowSeq)) continue;
      // An archived entry's leaf is its kept hash (ADR 0008); the root check below authenticates it.
      const leaf = row.kind === 'entry' ? entryLeafHash(row.row.seq, row.row.entry) : row.leafHash;
      whole.append(leaf);
      const r = ranges.findIndex(([start, end]) => index >= start && index < end);
      if (r >= 0) hashers[r]?.append(leaf);
      index += 1;
    }
  }
  // A proof from a log that no longer matches its head would prove nothing; say so instead.
  if (whole.size !== head.treeSize || !whole.root().equals(head.rootHash)) {
    throw new AuditProofError('the log does not match its newest signed head; run ward audit verify');
  }
  return {
    seq,
    leafIndex,
    entry: target.entry,
    leafHash: entryLeafHash(seq, target.entry).toString('hex'),
    treeHead: treeHeadToJson({
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      timestamp: head.timestampMs,
      keyId: head.keyId,
      signature: head.signature,
    }),
    inclusionProof: hashers.map((h) => h.root().toString('hex')),
    auditKey: { keyId: auditKeyId(publicKey), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  };
}
