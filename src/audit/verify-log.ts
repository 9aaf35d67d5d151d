import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  type ArchiveRecord,
  type AuditRow,
  countArchivedLeaves,
  countAuditRows,
  type Queryable,
  readArchives,
  readAuditRows,
  readHeads,
  readLeafRows,
  type StoredAuditRow,
  type StoredHead,
} from '../store/index.js';
import { type ArchiveFault, checkArchiveFiles } from './archive-partition.js';
import type { AuditEntry } from './audit-entry.js';
import { auditRowOf } from './audit-log.js';
import { entryLeafHash } from './entry-leaf.js';
import { CompactRange, consistencyProofFrom, type Hash, verifyConsistency } from './merkle.js';
import { type TreeHead, treeHeadSignatureValid } from './tree-head.js';
import { readWitnessFile, type WitnessLine } from './witness.js';

/** Every way the log can fail verification, each naming exactly where (ADR 0004). */
export type AuditFault =
  | { readonly kind: 'entry-altered'; readonly seq: number }
  | { readonly kind: 'entry-keys-altered'; readonly seq: number; readonly columns: readonly string[] }
  | { readonly kind: 'entries-missing'; readonly fromSeq: number; readonly throughSeq: number; readonly treeSize: number }
  | { readonly kind: 'entry-not-sealed'; readonly seq: number; readonly treeSize: number }
  | { readonly kind: 'head-signature-invalid'; readonly treeSize: number }
  | { readonly kind: 'head-root-mismatch'; readonly treeSize: number; readonly fromSeq: number; readonly throughSeq: number }
  | { readonly kind: 'head-inconsistent'; readonly treeSize: number; readonly previousTreeSize: number }
  | { readonly kind: 'head-out-of-order'; readonly treeSize: number }
  | { readonly kind: 'head-frontier-invalid'; readonly treeSize: number }
  | { readonly kind: 'witness-missing'; readonly path: string }
  | { readonly kind: 'witness-malformed'; readonly line: number }
  | { readonly kind: 'witness-signature-invalid'; readonly line: number; readonly treeSize: number }
  | { readonly kind: 'witness-head-not-in-database'; readonly line: number; readonly treeSize: number }
  | { readonly kind: 'witness-head-differs'; readonly line: number; readonly treeSize: number }
  | {
      readonly kind: 'database-behind-witness';
      readonly witnessedTreeSize: number;
      readonly witnessedAt: string;
      readonly databaseTreeSize: number;
    }
  | ArchiveFault;

/** An archived partition as the report names it: which entries left the database, and where to. */
export interface ArchivedRange {
  readonly partition: string;
  readonly from: string;
  readonly to: string;
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly file: string;
  readonly sha256: string;
  readonly archivedAt: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly entries: number;
  /**
   * Leaves whose entries were archived (ADR 0008): checked through their kept leaf hashes, which
   * the signed roots authenticate; the entries themselves are in the archive files.
   */
  readonly archivedEntries: number;
  readonly archives: readonly ArchivedRange[];
  readonly heads: number;
  readonly treeSize: number;
  readonly unsealedEntries: number;
  readonly newestHeadAt?: string;
  readonly witnessedTreeSize?: number;
  readonly faults: readonly AuditFault[];
}

export interface VerifyOptions {
  readonly publicKey: KeyObject;
  /** The witness file to compare with; absent only when the operator says there is none. */
  readonly witnessPath?: string;
  /** Where the archive files are kept: each archive the database records is then checked too. */
  readonly archivesDir?: string;
  readonly onProgress?: (done: number, total: number) => void;
  readonly pageSize?: number;
}

/**
 * `ward audit verify`: recomputes every leaf from its entry and the tree from the leaves, checks
 * each head's signature, its root, and its consistency with the head before it (RFC 9162
 * §2.1.4), and merges the witness file in, so a head the database lost (truncation, roll-back to
 * an older dump) is found. It streams: memory holds one page of entries and one head's leaves.
 */
export async function verifyAuditLog(db: Queryable, options: VerifyOptions): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5000;
  const faults: AuditFault[] = [];
  const archivedEntries = await countArchivedLeaves(db);
  const total = (await countAuditRows(db)) + archivedEntries;
  let done = 0;
  const witness = await openWitness(options.witnessPath, faults);
  let range = CompactRange.empty();
  let previous: StoredHead | undefined;
  let heads = 0;

  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };

  for (let after = 0; ; ) {
    const page = await readHeads(db, after, 500);
    if (page.length === 0) break;
    for (const head of page) {
      heads += 1;
      after = head.treeSize;
      const afterSeq = previous?.lastSeq ?? 0;
      if (head.lastSeq <= afterSeq) {
        faults.push({ kind: 'head-out-of-order', treeSize: head.treeSize });
        continue;
      }
      if (!treeHeadSignatureValid(options.publicKey, asTreeHead(head)))
        faults.push({ kind: 'head-signature-invalid', treeSize: head.treeSize });
      const leaves = await sealedLeaves(db, head, afterSeq, pageSize, faults, progress);
      const extended = range.clone();
      for (const leaf of leaves) extended.append(leaf);
      if (extended.size !== head.treeSize || !extended.root().equals(head.rootHash)) {
        faults.push({ kind: 'head-root-mismatch', treeSize: head.treeSize, fromSeq: afterSeq + 1, throughSeq: head.lastSeq });
      } else if (previous && range.size > 0) {
        const proof = consistencyProofFrom(range, leaves);
        if (!verifyConsistency(previous.treeSize, head.treeSize, previous.rootHash, head.rootHash, proof)) {
          faults.push({ kind: 'head-inconsistent', treeSize: head.treeSize, previousTreeSize: previous.treeSize });
        }
      }
      // Continue from the head's own edge (authenticated by its signed root), so one fault is
      // reported where it is and does not make every later head look wrong too.
      range = edgeOf(head) ?? extended;
      if (!edgeOf(head)) faults.push({ kind: 'head-frontier-invalid', treeSize: head.treeSize });
      await witness?.matchDatabaseHead(head, options.publicKey);
      previous = head;
    }
  }

  // Entries written after the newest head: not sealed yet, but each must still match its leaf.
  let unsealedEntries = 0;
  for (let afterSeq = previous?.lastSeq ?? 0; ; ) {
    const rows = await readAuditRows(db, { afterSeq, limit: pageSize });
    if (rows.length === 0) break;
    for (const row of rows)
      if (!entryLeafHash(row.seq, row.entry).equals(row.leafHash)) faults.push({ kind: 'entry-altered', seq: row.seq });
    unsealedEntries += rows.length;
    afterSeq = rows[rows.length - 1]?.seq ?? afterSeq;
    progress(rows.length);
  }
  const witnessedTreeSize = await witness?.finish(previous, options.publicKey);
  const archives = await readArchives(db);
  if (options.archivesDir !== undefined) faults.push(...(await checkArchiveFiles(archives, options.archivesDir, options.publicKey)));

  return {
    ok: faults.length === 0,
    entries: total - archivedEntries,
    archivedEntries,
    archives: archives.map(archivedRange),
    heads,
    treeSize: previous?.treeSize ?? 0,
    unsealedEntries,
    ...(previous ? { newestHeadAt: new Date(previous.timestampMs).toISOString() } : {}),
    ...(witnessedTreeSize !== undefined ? { witnessedTreeSize } : {}),
    faults,
  };
}

/** The leaves one head adds, recomputed from the entries; faults for entries altered, missing or slipped into a gap. */
async function sealedLeaves(
  db: Queryable,
  head: StoredHead,
  afterSeq: number,
  pageSize: number,
  faults: AuditFault[],
  progress: (n: number) => void,
): Promise<Hash[]> {
  const gaps = new Set(head.gaps);
  const leaves: Hash[] = [];
  let expected = afterSeq + 1;
  const missingUpTo = (seq: number) => {
    // Numbers below seq that the head sealed but no row holds any more.
    let start: number | undefined;
    for (; expected < seq; expected++) {
      if (gaps.has(expected)) {
        if (start !== undefined)
          faults.push({ kind: 'entries-missing', fromSeq: start, throughSeq: expected - 1, treeSize: head.treeSize });
        start = undefined;
      } else start ??= expected;
    }
    if (start !== undefined) faults.push({ kind: 'entries-missing', fromSeq: start, throughSeq: seq - 1, treeSize: head.treeSize });
  };
  for (let cursor = afterSeq; ; ) {
    const rows = await readLeafRows(db, { afterSeq: cursor, throughSeq: head.lastSeq, limit: pageSize });
    if (rows.length === 0) break;
    for (const leafRow of rows) {
      const seq = leafRow.kind === 'entry' ? leafRow.row.seq : leafRow.seq;
      missingUpTo(seq);
      expected = seq + 1;
      let leaf: Hash;
      if (leafRow.kind === 'entry') {
        const row = leafRow.row;
        leaf = entryLeafHash(row.seq, row.entry);
        if (!leaf.equals(row.leafHash)) faults.push({ kind: 'entry-altered', seq: row.seq });
        checkQueryKeys(row, faults);
      } else {
        // The entry is in its archive file; the kept leaf hash goes into the tree, whose signed
        // root catches any change to it.
        leaf = leafRow.leafHash;
      }
      if (gaps.has(seq)) faults.push({ kind: 'entry-not-sealed', seq, treeSize: head.treeSize });
      else leaves.push(leaf);
    }
    const last = rows[rows.length - 1];
    cursor = last ? (last.kind === 'entry' ? last.row.seq : last.seq) : cursor;
    progress(rows.length);
  }
  missingUpTo(head.lastSeq + 1);
  return leaves;
}

/**
 * The query columns (who, what, which patient, when…) are copies of the entry that the auditor's
 * searches and the accounting of disclosures filter on; the leaf hash covers only the entry. A
 * copy that no longer matches its entry would hide the entry from those reports, so it is a fault.
 */
const KEY_COLUMNS = [
  ['action', 'action'],
  ['outcome', 'outcome'],
  ['principalId', 'principal_id'],
  ['patientId', 'patient_id'],
  ['resourceType', 'resource_type'],
  ['resourceId', 'resource_id'],
] as const;

function checkQueryKeys(row: StoredAuditRow, faults: AuditFault[]): void {
  let expected: AuditRow;
  try {
    expected = auditRowOf(JSON.parse(row.entry) as AuditEntry);
  } catch {
    faults.push({ kind: 'entry-keys-altered', seq: row.seq, columns: ['entry'] });
    return;
  }
  const same = (a: readonly string[] | null, b: readonly string[] | null) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const columns = [
    ...(expected.recordedAt.getTime() === row.recordedAt.getTime() ? [] : ['recorded_at']),
    ...KEY_COLUMNS.filter(([k]) => expected[k] !== row[k]).map(([, column]) => column),
    ...(same(expected.patients, row.patients) ? [] : ['patients']),
    ...(same(expected.returned, row.returned) ? [] : ['returned']),
  ];
  if (columns.length > 0) faults.push({ kind: 'entry-keys-altered', seq: row.seq, columns });
}

function archivedRange(a: ArchiveRecord): ArchivedRange {
  return {
    partition: a.partition,
    from: a.from.toISOString(),
    to: a.to.toISOString(),
    entries: a.entries,
    firstSeq: a.firstSeq,
    lastSeq: a.lastSeq,
    file: a.file,
    sha256: a.sha256,
    archivedAt: a.archivedAt.toISOString(),
  };
}

function asTreeHead(head: StoredHead): TreeHead {
  return { treeSize: head.treeSize, rootHash: head.rootHash, timestamp: head.timestampMs, keyId: head.keyId, signature: head.signature };
}

function edgeOf(head: StoredHead): CompactRange | undefined {
  try {
    const edge = CompactRange.fromBytes(head.treeSize, head.frontier);
    return edge.root().equals(head.rootHash) ? edge : undefined;
  } catch {
    return undefined;
  }
}

/** The witness file, read alongside the database's heads (both are in tree-size order). */
async function openWitness(path: string | undefined, faults: AuditFault[]) {
  if (path === undefined) return undefined;
  if (!existsSync(path)) {
    faults.push({ kind: 'witness-missing', path });
    return undefined;
  }
  const lines = readWitnessFile(path);
  let next: Extract<WitnessLine, { head: TreeHead }> | undefined;
  let newestWitnessed: TreeHead | undefined;
  const advance = async () => {
    for (;;) {
      const r = await lines.next();
      if (r.done) {
        next = undefined;
        return;
      }
      if ('malformed' in r.value) faults.push({ kind: 'witness-malformed', line: r.value.line });
      else {
        next = r.value;
        return;
      }
    }
  };
  const check = (line: Extract<WitnessLine, { head: TreeHead }>, publicKey: KeyObject): boolean => {
    if (treeHeadSignatureValid(publicKey, line.head)) return true;
    faults.push({ kind: 'witness-signature-invalid', line: line.line, treeSize: line.head.treeSize });
    return false;
  };
  await advance();
  return {
    async matchDatabaseHead(head: StoredHead, publicKey: KeyObject): Promise<void> {
      while (next && next.head.treeSize <= head.treeSize) {
        if (check(next, publicKey)) {
          newestWitnessed = next.head;
          if (next.head.treeSize < head.treeSize)
            faults.push({ kind: 'witness-head-not-in-database', line: next.line, treeSize: next.head.treeSize });
          else if (!next.head.rootHash.equals(head.rootHash) || next.head.timestamp !== head.timestampMs)
            faults.push({ kind: 'witness-head-differs', line: next.line, treeSize: head.treeSize });
        }
        await advance();
      }
    },
    /** Heads the witness holds beyond the database's newest: the database lost them. */
    async finish(newestInDatabase: StoredHead | undefined, publicKey: KeyObject): Promise<number | undefined> {
      let beyond: TreeHead | undefined;
      while (next) {
        if (check(next, publicKey)) beyond = next.head;
        await advance();
      }
      if (beyond) {
        faults.push({
          kind: 'database-behind-witness',
          witnessedTreeSize: beyond.treeSize,
          witnessedAt: new Date(beyond.timestamp).toISOString(),
          databaseTreeSize: newestInDatabase?.treeSize ?? 0,
        });
        return beyond.treeSize;
      }
      return newestWitnessed?.treeSize;
    },
  };
}

/** One line an operator can act on, naming the entries or head at fault. */
export function describeFault(f: AuditFault): string {
  switch (f.kind) {
    case 'entry-altered':
      return `entry ${f.seq}: its content does not match its leaf hash (altered after it was written)`;
    case 'entry-keys-altered':
      return `entry ${f.seq}: its query columns (${f.columns.join(', ')}) no longer match the entry, so reports would miss or misplace it`;
    case 'entries-missing':
      return f.fromSeq === f.throughSeq
        ? `entry ${f.fromSeq}: missing (sealed in the tree of size ${f.treeSize}, no longer in the database)`
        : `entries ${f.fromSeq}-${f.throughSeq}: missing (sealed in the tree of size ${f.treeSize}, no longer in the database)`;
    case 'entry-not-sealed':
      return `entry ${f.seq}: present, but the tree of size ${f.treeSize} sealed no entry with that number (inserted afterwards)`;
    case 'head-signature-invalid':
      return `head of tree size ${f.treeSize}: signature does not verify with the audit key (forged or altered head)`;
    case 'head-root-mismatch':
      return `head of tree size ${f.treeSize}: the entries ${f.fromSeq}-${f.throughSeq} do not hash to its signed root (one or more altered, removed, reordered or inserted)`;
    case 'head-inconsistent':
      return `head of tree size ${f.treeSize}: not consistent with the head of tree size ${f.previousTreeSize} (RFC 9162 consistency proof fails)`;
    case 'head-out-of-order':
      return `head of tree size ${f.treeSize}: covers no entries after the head before it`;
    case 'head-frontier-invalid':
      return `head of tree size ${f.treeSize}: its stored tree edge does not match its root`;
    case 'witness-missing':
      return `witness file ${f.path} is missing: truncation and roll-back cannot be ruled out`;
    case 'witness-malformed':
      return `witness line ${f.line}: not a tree head`;
    case 'witness-signature-invalid':
      return `witness line ${f.line} (tree size ${f.treeSize}): signature does not verify with the audit key`;
    case 'witness-head-not-in-database':
      return `witness line ${f.line}: head of tree size ${f.treeSize} is not in the database (a head was removed)`;
    case 'witness-head-differs':
      return `witness line ${f.line}: head of tree size ${f.treeSize} differs from the database's head of that size`;
    case 'database-behind-witness':
      return `the witness holds a head of tree size ${f.witnessedTreeSize} (${f.witnessedAt}) but the database's newest head has tree size ${f.databaseTreeSize}: entries were truncated or an older database was restored`;
    case 'archive-missing':
      return `archive of ${f.partition}: ${f.path} is missing (the partition's entries now exist only there)`;
    case 'archive-invalid':
      return `archive of ${f.partition}: ${f.reason}`;
  }
}
