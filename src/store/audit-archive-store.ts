import { type StoredAuditRow, storedAuditRowOf } from './audit-store.js';
import { asBuffer, asDate, asNumber, type Queryable } from './database.js';

/**
 * Monthly partitions of the audit log and their archives (ADR 0008). Partitions are named
 * `ward_audit_entry_YYYY_MM` for the UTC month they hold; `ward_audit_entry_default` holds rows no
 * month partition takes.
 */
export interface AuditPartition {
  readonly name: string;
  /** The first instant of the month (inclusive), UTC. */
  readonly from: Date;
  /** The first instant of the next month (exclusive). */
  readonly to: Date;
}

const MONTH_PARTITION = /^ward_audit_entry_(\d{4})_(\d{2})$/;

/** The month partitions that exist now, oldest first (the default partition is not a month). */
export async function listAuditPartitions(q: Queryable): Promise<AuditPartition[]> {
  const { rows } = await q.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'ward_audit_entry'::regclass ORDER BY c.relname`,
  );
  return rows.flatMap((r) => {
    const m = MONTH_PARTITION.exec(r.name);
    if (!m) return [];
    const year = Number(m[1]);
    const month = Number(m[2]) - 1;
    return [{ name: r.name, from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) }];
  });
}

/** Creates (as the owner) the partitions from the month holding `from` through `months` after it; returns how many were new. */
export async function ensureAuditPartitions(owner: Queryable, from: Date, months: number): Promise<number> {
  const { rows } = await owner.query<{ n: unknown }>('SELECT ward_audit_ensure_partitions($1, $2) AS n', [from.toISOString(), months]);
  return asNumber(rows[0]?.n);
}

/** How many rows the default partition holds: rows of a month that had no partition when they arrived. */
export async function countDefaultPartitionRows(q: Queryable): Promise<number> {
  // Through the parent (the serving role has no grant on partitions): rows outside every month partition.
  const partitions = await listAuditPartitions(q);
  if (partitions.length === 0) return asNumber((await q.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_audit_entry')).rows[0]?.n);
  const clauses = partitions.map((_, i) => `(recorded_at >= $${2 * i + 1} AND recorded_at < $${2 * i + 2})`).join(' OR ');
  const { rows } = await q.query<{ n: unknown }>(
    `SELECT count(*) AS n FROM ward_audit_entry WHERE NOT (${clauses})`,
    partitions.flatMap((p) => [p.from.toISOString(), p.to.toISOString()]),
  );
  return asNumber(rows[0]?.n);
}

/** What one month partition holds: how many entries, their number range, and the newest number. */
export async function partitionSummary(
  q: Queryable,
  p: AuditPartition,
): Promise<{ entries: number; firstSeq: number | null; lastSeq: number | null }> {
  const { rows } = await q.query<{ n: unknown; lo: unknown; hi: unknown }>(
    'SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM ward_audit_entry WHERE recorded_at >= $1 AND recorded_at < $2',
    [p.from.toISOString(), p.to.toISOString()],
  );
  const r = rows[0];
  return {
    entries: asNumber(r?.n),
    firstSeq: r?.lo === null || r?.lo === undefined ? null : asNumber(r.lo),
    lastSeq: r?.hi === null || r?.hi === undefined ? null : asNumber(r.hi),
  };
}

/**
 * The leaf index of each entry of one partition in the tree of the head that sealed through
 * `throughSeq`: its rank among all leaves (live entries and archived leaves), gaps left out.
 */
export async function partitionLeafIndexes(
  q: Queryable,
  p: AuditPartition,
  throughSeq: number,
  gaps: readonly number[],
): Promise<{ seq: number; leafIndex: number }[]> {
  const { rows } = await q.query<{ seq: unknown; leaf_index: unknown }>(
    `SELECT seq, leaf_index FROM (
       SELECT seq, recorded_at, row_number() OVER (ORDER BY seq) - 1 AS leaf_index FROM (
         SELECT seq, recorded_at FROM ward_audit_entry WHERE seq <= $1 AND NOT (seq = ANY($2::bigint[]))
         UNION ALL
         SELECT seq, NULL FROM ward_audit_archived_leaf WHERE seq <= $1
       ) leaves
     ) ranked
     WHERE recorded_at >= $3 AND recorded_at < $4 ORDER BY seq`,
    [throughSeq, gaps, p.from.toISOString(), p.to.toISOString()],
  );
  return rows.map((r) => ({ seq: asNumber(r.seq), leafIndex: asNumber(r.leaf_index) }));
}

/** The entries of one partition in number order, a page at a time. */
export async function readPartitionRows(q: Queryable, p: AuditPartition, afterSeq: number, limit: number): Promise<StoredAuditRow[]> {
  const { rows } = await q.query(
    `SELECT seq, recorded_at, action, outcome, principal_id, patient_id, resource_type, resource_id, entry, patients, returned, leaf_hash
       FROM ward_audit_entry WHERE recorded_at >= $1 AND recorded_at < $2 AND seq > $3 ORDER BY seq LIMIT $4`,
    [p.from.toISOString(), p.to.toISOString(), afterSeq, limit],
  );
  return rows.map(storedAuditRowOf);
}

/** One archived partition, as `ward_audit_archive` records it. */
export interface ArchiveRecord {
  readonly partition: string;
  readonly from: Date;
  readonly to: Date;
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** The signed head the archive's inclusion proofs are against. */
  readonly headTreeSize: number;
  readonly file: string;
  readonly sha256: string;
  readonly archivedAt: Date;
}

export async function readArchives(q: Queryable): Promise<ArchiveRecord[]> {
  const { rows } = await q.query(
    `SELECT partition, range_from, range_to, entries, first_seq, last_seq, head_tree_size, file, sha256, archived_at
       FROM ward_audit_archive ORDER BY range_from`,
  );
  return rows.map(archiveOf);
}

/** The archive that holds the entry with this number, if it was archived. */
export async function findArchiveOf(q: Queryable, seq: number): Promise<ArchiveRecord | undefined> {
  const { rows } = await q.query(
    `SELECT a.partition, a.range_from, a.range_to, a.entries, a.first_seq, a.last_seq, a.head_tree_size, a.file, a.sha256, a.archived_at
       FROM ward_audit_archived_leaf l JOIN ward_audit_archive a ON a.partition = l.partition WHERE l.seq = $1`,
    [seq],
  );
  return rows[0] ? archiveOf(rows[0]) : undefined;
}

/**
 * The owner's half of archiving one partition, in the caller's transaction: lock the partition
 * (no entry can arrive in it any more), check it still holds exactly what was exported, keep its
 * leaf hashes, record the archive, and drop it. Throws, rolling everything back, on any mismatch.
 */
export async function dropArchivedPartition(
  owner: Queryable,
  record: ArchiveRecord,
  expected: { entries: number; lastSeq: number | null },
): Promise<void> {
  if (!MONTH_PARTITION.test(record.partition)) throw new TypeError('not an audit month partition');
  // The name is checked against the pattern above; DDL cannot take it as a parameter.
  await owner.query(`LOCK TABLE ${record.partition} IN ACCESS EXCLUSIVE MODE`);
  const now = await owner.query<{ n: unknown; hi: unknown }>(`SELECT count(*) AS n, max(seq) AS hi FROM ${record.partition}`);
  const hi = now.rows[0]?.hi;
  if (asNumber(now.rows[0]?.n) !== expected.entries || (hi === null ? null : asNumber(hi)) !== expected.lastSeq)
    throw new Error(`partition ${record.partition} changed while it was archived; nothing was dropped`);
  await owner.query(
    `INSERT INTO ward_audit_archive (partition, range_from, range_to, entries, first_seq, last_seq, head_tree_size, file, sha256, archived_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      record.partition,
      record.from.toISOString(),
      record.to.toISOString(),
      record.entries,
      record.firstSeq,
      record.lastSeq,
      record.headTreeSize,
      record.file,
      record.sha256,
      record.archivedAt.toISOString(),
    ],
  );
  const kept = await owner.query(
    `INSERT INTO ward_audit_archived_leaf (seq, leaf_hash, partition) SELECT seq, leaf_hash, $1 FROM ${record.partition}`,
    [record.partition],
  );
  if (kept.rowCount !== expected.entries)
    throw new Error(`partition ${record.partition}: kept ${kept.rowCount} leaves, expected ${expected.entries}`);
  await owner.query(`DROP TABLE ${record.partition}`);
}

/** One leaf of the tree in number order: a live entry, or the kept leaf hash of an archived one. */
export type LeafRow =
  | { readonly kind: 'entry'; readonly row: StoredAuditRow }
  | { readonly kind: 'archived'; readonly seq: number; readonly leafHash: Buffer; readonly partition: string };

/** Live entries and archived leaves with afterSeq < seq <= throughSeq, merged in number order. */
export async function readLeafRows(q: Queryable, query: { afterSeq: number; throughSeq?: number; limit: number }): Promise<LeafRow[]> {
  const { rows } = await q.query(
    `SELECT seq, recorded_at, action, outcome, principal_id, patient_id, resource_type, resource_id, entry, patients, returned, leaf_hash,
            NULL::text AS partition
       FROM ward_audit_entry WHERE seq > $1 AND seq <= $2
     UNION ALL
     SELECT seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, leaf_hash, partition
       FROM ward_audit_archived_leaf WHERE seq > $1 AND seq <= $2
     ORDER BY seq LIMIT $3`,
    [query.afterSeq, query.throughSeq ?? Number.MAX_SAFE_INTEGER, query.limit],
  );
  return rows.map((r): LeafRow => {
    if (r.partition !== null && r.partition !== undefined)
      return { kind: 'archived', seq: asNumber(r.seq), leafHash: asBuffer(r.leaf_hash), partition: r.partition as string };
    return {
      kind: 'entry',
      row: storedAuditRowOf(r),
    };
  });
}

/** How many leaves were archived. */
export async function countArchivedLeaves(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_audit_archived_leaf');
  return asNumber(rows[0]?.n);
}

function archiveOf(r: Record<string, unknown>): ArchiveRecord {
  return {
    partition: r.partition as string,
    from: asDate(r.range_from),
    to: asDate(r.range_to),
    entries: asNumber(r.entries),
    firstSeq: r.first_seq === null ? null : asNumber(r.first_seq),
    lastSeq: r.last_seq === null ? null : asNumber(r.last_seq),
    headTreeSize: asNumber(r.head_tree_size),
    file: r.file as string,
    sha256: r.sha256 as string,
    archivedAt: asDate(r.archived_at),
  };
}
