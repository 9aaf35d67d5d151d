import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type AuditPartition,
  type LeafRow,
  partitionLeafIndexes,
  partitionSummary,
  type Queryable,
  readHeads,
  readLeafRows,
  readNewestHead,
  readPartitionRows,
  type StoredHead,
} from '../store/index.js';
import { batchInclusionProofs } from './batch-proofs.js';
import { entryLeafHash } from './entry-leaf.js';
import { type Hash, verifyInclusion } from './merkle.js';
import { auditKeyId, type TreeHead, treeHeadFromJson, treeHeadSignatureValid, treeHeadToJson } from './tree-head.js';

/** Why a partition cannot be archived (yet); the message is for the operator and holds no PHI. */
export class AuditArchiveError extends Error {
  override readonly name = 'AuditArchiveError';
}

/**
 * One archived partition on disk (ADR 0008), three files in the output directory:
 * - `<partition>.ndjson`: one line per entry, in number order:
 *   `{"seq", "leafIndex", "recordedAt", "entry", "leafHash", "inclusionProof": [hex…]}`;
 * - `<partition>.head.json`: the signed tree head the proofs are against, the audit public key,
 *   and the partition's month and entry range;
 * - `<partition>.sha256`: SHA-256 digests of both, in `sha256sum -c` format.
 */
export interface ArchiveFiles {
  readonly ndjson: string;
  readonly head: string;
  readonly digests: string;
}

export interface ExportedPartition {
  readonly partition: AuditPartition;
  readonly files: ArchiveFiles;
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly head: StoredHead;
  /** SHA-256 of the NDJSON file, hex. */
  readonly sha256: string;
}

export interface ArchiveHeadFile {
  readonly partition: string;
  readonly from: string;
  readonly to: string;
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly treeHead: ReturnType<typeof treeHeadToJson>;
  readonly auditKey: { readonly keyId: string; readonly publicKeyPem: string };
}

export function archiveFiles(outDir: string, partition: string): ArchiveFiles {
  return {
    ndjson: join(outDir, `${partition}.ndjson`),
    head: join(outDir, `${partition}.head.json`),
    digests: join(outDir, `${partition}.sha256`),
  };
}

/**
 * Writes a partition's entries with their leaf hashes and inclusion proofs against the newest
 * signed head, and the head itself, each file fsynced (and the directory). Refuses when an entry
 * of the partition is not sealed yet, when any entry no longer matches its leaf hash, or when the
 * leaves do not hash to the head's signed root: an archive must prove what it holds.
 */
export async function exportPartition(
  db: Queryable,
  partition: AuditPartition,
  options: { readonly outDir: string; readonly publicKey: KeyObject; readonly pageSize?: number },
): Promise<ExportedPartition> {
  const pageSize = options.pageSize ?? 5000;
  const head = await readNewestHead(db);
  const summary = await partitionSummary(db, partition);
  if (summary.lastSeq !== null && (!head || head.lastSeq < summary.lastSeq))
    throw new AuditArchiveError(
      `partition ${partition.name} holds entries not sealed yet (up to ${summary.lastSeq}; the newest head covers ${head?.lastSeq ?? 0})`,
    );
  if (!head) throw new AuditArchiveError('the log has no signed head yet');
  const gaps = await allGaps(db, head.treeSize);
  const indexes = await partitionLeafIndexes(db, partition, head.lastSeq, [...gaps]);
  if (indexes.length !== summary.entries)
    throw new AuditArchiveError(`partition ${partition.name}: entries in a sealed gap; run ward audit verify`);

  const proofs = await batchInclusionProofs(
    head.treeSize,
    indexes.map((i) => i.leafIndex),
    leafReader(db, head.lastSeq, gaps, pageSize),
  );
  if (!proofs.root.equals(head.rootHash))
    throw new AuditArchiveError('the log does not match its newest signed head; run ward audit verify before archiving');

  mkdirSync(options.outDir, { recursive: true, mode: 0o700 });
  const files = archiveFiles(options.outDir, partition.name);
  for (const f of Object.values(files)) if (existsSync(f)) throw new AuditArchiveError(`${f} exists already; nothing is overwritten`);

  const ndjson = new SyncedFile(files.ndjson);
  try {
    let i = 0;
    for (let after = 0; ; ) {
      const rows = await readPartitionRows(db, partition, after, pageSize);
      if (rows.length === 0) break;
      for (const row of rows) {
        const at = indexes[i++];
        if (at?.seq !== row.seq) throw new AuditArchiveError(`partition ${partition.name} changed while it was exported`);
        const line = {
          seq: row.seq,
          leafIndex: at.leafIndex,
          recordedAt: row.recordedAt.toISOString(),
          entry: row.entry,
          leafHash: entryLeafHash(row.seq, row.entry).toString('hex'),
          inclusionProof: proofs.proof(at.leafIndex).map((h) => h.toString('hex')),
        };
        ndjson.write(`${JSON.stringify(line)}\n`);
      }
      after = rows[rows.length - 1]?.seq ?? after;
    }
    if (i !== indexes.length) throw new AuditArchiveError(`partition ${partition.name} changed while it was exported`);
  } finally {
    ndjson.close();
  }
  const headFile: ArchiveHeadFile = {
    partition: partition.name,
    from: partition.from.toISOString(),
    to: partition.to.toISOString(),
    entries: summary.entries,
    firstSeq: summary.firstSeq,
    lastSeq: summary.lastSeq,
    treeHead: treeHeadToJson({
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      timestamp: head.timestampMs,
      keyId: head.keyId,
      signature: head.signature,
    }),
    auditKey: {
      keyId: auditKeyId(options.publicKey),
      publicKeyPem: options.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
  };
  const headOut = new SyncedFile(files.head);
  headOut.write(`${JSON.stringify(headFile, null, 2)}\n`);
  headOut.close();
  const sha256 = ndjson.digest();
  const digests = new SyncedFile(files.digests);
  digests.write(`${sha256}  ${basename(files.ndjson)}\n${headOut.digest()}  ${basename(files.head)}\n`);
  digests.close();
  fsyncDirectory(options.outDir);
  return { partition, files, entries: summary.entries, firstSeq: summary.firstSeq, lastSeq: summary.lastSeq, head, sha256 };
}

/**
 * Reads an archive back from disk and checks it on its own terms: the digests, the head's
 * signature under the given key, every line's leaf recomputed from its entry and its inclusion
 * proof against the head, the entry numbers in order and their count. Returns the entry count.
 */
export async function checkArchive(files: ArchiveFiles, publicKey: KeyObject): Promise<{ entries: number }> {
  const listed = new Map<string, string>();
  for (const line of readFileSync(files.digests, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (m?.[1] && m[2]) listed.set(m[2], m[1]);
  }
  for (const f of [files.ndjson, files.head])
    if (listed.get(basename(f)) !== (await fileDigest(f))) throw new AuditArchiveError(`${basename(f)}: digest does not match`);
  const headFile = JSON.parse(readFileSync(files.head, 'utf8')) as ArchiveHeadFile;
  const head: TreeHead | undefined = treeHeadFromJson(headFile.treeHead);
  if (!head || !treeHeadSignatureValid(publicKey, head)) throw new AuditArchiveError('the archive head does not verify with the audit key');
  let entries = 0;
  let previous = 0;
  const lines = createInterface({ input: createReadStream(files.ndjson, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of lines) {
    if (text === '') continue;
    const line = JSON.parse(text) as { seq: number; leafIndex: number; entry: string; leafHash: string; inclusionProof: string[] };
    const leaf = entryLeafHash(line.seq, line.entry);
    const proof: Hash[] = line.inclusionProof.map((h) => Buffer.from(h, 'hex'));
    if (
      line.seq <= previous ||
      leaf.toString('hex') !== line.leafHash ||
      !verifyInclusion(line.leafIndex, head.treeSize, leaf, proof, head.rootHash)
    )
      throw new AuditArchiveError(`archive line for entry ${line.seq} does not prove its entry`);
    previous = line.seq;
    entries += 1;
  }
  if (entries !== headFile.entries)
    throw new AuditArchiveError(`the archive holds ${entries} entries, its head file says ${headFile.entries}`);
  return { entries };
}

/** What is wrong with one archive on disk, as `ward audit verify --archives` reports it. */
export type ArchiveFault =
  | { readonly kind: 'archive-missing'; readonly partition: string; readonly path: string }
  | { readonly kind: 'archive-invalid'; readonly partition: string; readonly reason: string };

/**
 * Checks that every archive the database records is where the operator keeps them (`dir`), that
 * each checks on its own terms (checkArchive), and that its NDJSON is the very file recorded when
 * the partition was dropped (its SHA-256), so an archive lost, altered or swapped for another is
 * found while the kept leaf hashes still say what it must hold.
 */
export async function checkArchiveFiles(
  records: readonly { readonly partition: string; readonly sha256: string }[],
  dir: string,
  publicKey: KeyObject,
): Promise<ArchiveFault[]> {
  const faults: ArchiveFault[] = [];
  for (const record of records) {
    const files = archiveFiles(dir, record.partition);
    const absent = Object.values(files).find((f) => !existsSync(f));
    if (absent) {
      faults.push({ kind: 'archive-missing', partition: record.partition, path: absent });
      continue;
    }
    try {
      await checkArchive(files, publicKey);
      if ((await fileDigest(files.ndjson)) !== record.sha256)
        throw new AuditArchiveError(`${basename(files.ndjson)} is not the file recorded when the partition was archived`);
    } catch (e) {
      // Only our own messages are shown: a parser's message could quote the file's content.
      const reason = e instanceof AuditArchiveError ? e.message : 'the archive files cannot be read as an archive';
      faults.push({ kind: 'archive-invalid', partition: record.partition, reason });
    }
  }
  return faults;
}

/** Every leaf of the tree through `throughSeq`, in order: live entries recomputed and checked, archived ones as kept. */
function leafReader(db: Queryable, throughSeq: number, gaps: ReadonlySet<number>, pageSize: number): () => Promise<Hash> {
  let page: LeafRow[] = [];
  let at = 0;
  let after = 0;
  return async () => {
    for (;;) {
      if (at >= page.length) {
        page = await readLeafRows(db, { afterSeq: after, throughSeq, limit: pageSize });
        at = 0;
        if (page.length === 0) throw new AuditArchiveError('the log holds fewer leaves than its newest head; run ward audit verify');
      }
      const row = page[at++] as LeafRow;
      const seq = row.kind === 'entry' ? row.row.seq : row.seq;
      after = seq;
      if (gaps.has(seq)) continue;
      if (row.kind === 'archived') return row.leafHash;
      const leaf = entryLeafHash(row.row.seq, row.row.entry);
      if (!leaf.equals(row.row.leafHash)) throw new AuditArchiveError(`entry ${seq} does not match its leaf hash; run ward audit verify`);
      return leaf;
    }
  };
}

async function allGaps(db: Queryable, throughTreeSize: number): Promise<Set<number>> {
  const gaps = new Set<number>();
  for (let after = 0; after < throughTreeSize; ) {
    const page = await readHeads(db, after, 1000);
    if (page.length === 0) break;
    for (const h of page) if (h.treeSize <= throughTreeSize) for (const g of h.gaps) gaps.add(g);
    after = page[page.length - 1]?.treeSize ?? throughTreeSize;
  }
  return gaps;
}

/** A new file (0600, never overwritten) whose bytes are hashed as written and flushed to disk on close. */
class SyncedFile {
  readonly #fd: number;
  readonly #hash = createHash('sha256');
  #digest: string | undefined;

  constructor(path: string) {
    this.#fd = openSync(path, 'wx', 0o600);
  }

  write(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    writeSync(this.#fd, bytes);
    this.#hash.update(bytes);
  }

  close(): void {
    if (this.#digest !== undefined) return;
    this.#digest = this.#hash.digest('hex');
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }

  digest(): string {
    this.close();
    return this.#digest as string;
  }
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
