import { asBuffer, asDate, asNumber, type Queryable } from './database.js';

/** One signed tree head as stored (ADR 0004). */
export interface StoredHead {
  readonly treeSize: number;
  readonly lastSeq: number;
  readonly gaps: readonly number[];
  readonly rootHash: Buffer;
  readonly timestampMs: number;
  readonly keyId: string;
  readonly signature: Buffer;
  readonly frontier: Buffer;
}

/** Only one sealer at a time, across every app instance (PGlite has one connection anyway). */
const SEALER_LOCK = 7305950418;

/**
 * A watermark candidate: the last audit number handed out, then a fresh transaction id taken
 * (and committed) after that read. Every transaction holding a number up to `seq` had its xid
 * before the read (the insert trigger takes the xid first), so its xid is below `xid`. Once no
 * transaction older than `xid` is running, all of them have committed or rolled back, and the
 * numbers up to `seq` are final. (A snapshot's xmax would not do: it is one past the newest
 * *completed* xid, so a running transaction can sit at or above it, outside the snapshot's xip.)
 */
/** The newest audit sequence number handed out (0 when none): cheap, and takes no transaction id. */
export async function readAuditSequenceValue(q: Queryable): Promise<number> {
  const seq = await q.query<{ seq: unknown }>(`SELECT coalesce(pg_sequence_last_value('ward_audit_seq'), 0) AS seq`);
  return asNumber(seq.rows[0]?.seq);
}

export async function readSealCandidate(q: Queryable): Promise<{ seq: number; xid: bigint }> {
  const seq = await readAuditSequenceValue(q);
  const mark = await q.query<{ xid: string }>(`SELECT pg_current_xact_id()::text AS xid`);
  return { seq, xid: BigInt(mark.rows[0]?.xid ?? '0') };
}

/** The oldest transaction id still running (or one past the newest completed, when none is). */
export async function readOldestRunningXid(q: Queryable): Promise<bigint> {
  const snap = await q.query<{ xmin: string }>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
  return BigInt(snap.rows[0]?.xmin ?? '0');
}

/** Takes the sealer lock for the caller's transaction; false when another sealer holds it. */
export async function tryLockSealer(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [SEALER_LOCK]);
  return rows[0]?.locked === true;
}

const HEAD_COLUMNS = 'tree_size, last_seq, gaps, root_hash, timestamp_ms, key_id, signature, frontier';

export async function readNewestHead(q: Queryable): Promise<StoredHead | undefined> {
  const { rows } = await q.query(`SELECT ${HEAD_COLUMNS} FROM ward_audit_head ORDER BY tree_size DESC LIMIT 1`);
  return rows[0] ? headOf(rows[0]) : undefined;
}

/** Heads in tree-size order, a page at a time. */
export async function readHeads(q: Queryable, afterTreeSize: number, limit: number): Promise<StoredHead[]> {
  const { rows } = await q.query(`SELECT ${HEAD_COLUMNS} FROM ward_audit_head WHERE tree_size > $1 ORDER BY tree_size LIMIT $2`, [
    afterTreeSize,
    limit,
  ]);
  return rows.map(headOf);
}

/** The oldest head whose tree holds the entry with this number. */
export async function readHeadCovering(q: Queryable, seq: number): Promise<StoredHead | undefined> {
  const { rows } = await q.query(`SELECT ${HEAD_COLUMNS} FROM ward_audit_head WHERE last_seq >= $1 ORDER BY tree_size LIMIT 1`, [seq]);
  return rows[0] ? headOf(rows[0]) : undefined;
}

export async function insertHead(tx: Queryable, head: StoredHead): Promise<void> {
  await tx.query(`INSERT INTO ward_audit_head (${HEAD_COLUMNS}) VALUES ($1, $2, $3::bigint[], $4, $5, $6, $7, $8)`, [
    head.treeSize,
    head.lastSeq,
    head.gaps,
    head.rootHash,
    head.timestampMs,
    head.keyId,
    head.signature,
    head.frontier,
  ]);
}

function headOf(r: Record<string, unknown>): StoredHead {
  return {
    treeSize: asNumber(r.tree_size),
    lastSeq: asNumber(r.last_seq),
    gaps: ((r.gaps as unknown[] | null) ?? []).map(asNumber),
    rootHash: asBuffer(r.root_hash),
    timestampMs: asNumber(r.timestamp_ms),
    keyId: r.key_id as string,
    signature: asBuffer(r.signature),
    frontier: asBuffer(r.frontier),
  };
}

/** Entries after `afterSeq` (not under a head yet): how many, and when the oldest was recorded. */
export async function readUnsealed(q: Queryable, afterSeq: number): Promise<{ count: number; oldest: Date | null }> {
  const { rows } = await q.query<{ n: unknown; oldest: unknown }>(
    'SELECT count(*) AS n, min(recorded_at) AS oldest FROM ward_audit_entry WHERE seq > $1',
    [afterSeq],
  );
  const oldest = rows[0]?.oldest;
  return { count: asNumber(rows[0]?.n), oldest: oldest === null || oldest === undefined ? null : asDate(oldest) };
}

/** The newest entry of one action (e.g. the last `audit-verify`), if any. */
export async function readNewestOfAction(q: Queryable, action: string): Promise<{ seq: number; entry: string } | undefined> {
  const { rows } = await q.query<{ seq: unknown; entry: string }>(
    'SELECT seq, entry FROM ward_audit_entry WHERE action = $1 ORDER BY seq DESC LIMIT 1',
    [action],
  );
  return rows[0] ? { seq: asNumber(rows[0].seq), entry: rows[0].entry } : undefined;
}

/** The newest successful entries of one action, newest first (e.g. the review sign-offs, not the refused attempts). */
export async function readRecentOfAction(q: Queryable, action: string, limit: number): Promise<{ seq: number; entry: string }[]> {
  const { rows } = await q.query<{ seq: unknown; entry: string }>(
    `SELECT seq, entry FROM ward_audit_entry WHERE action = $1 AND outcome = 'success' ORDER BY seq DESC LIMIT $2`,
    [action, limit],
  );
  return rows.map((r) => ({ seq: asNumber(r.seq), entry: r.entry }));
}

/** When the log's oldest entry still in the database was recorded. */
export async function readOldestEntryTime(q: Queryable): Promise<Date | undefined> {
  const { rows } = await q.query<{ t: unknown }>('SELECT min(recorded_at) AS t FROM ward_audit_entry');
  const t = rows[0]?.t;
  return t === null || t === undefined ? undefined : asDate(t);
}
