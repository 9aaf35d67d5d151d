import { isAbsolute } from 'node:path';
import { AuditArchiveError, checkArchive, exportPartition } from '../audit/index.js';
import type { Principal } from '../policy/index.js';
import {
  AUDIT_PARTITION_MONTHS_AHEAD,
  countDefaultPartitionRows,
  type Database,
  dropArchivedPartition,
  ensureAuditPartitions,
  listAuditPartitions,
  openPostgres,
  partitionSummary,
} from '../store/index.js';
import type { RequestContext } from '../vault/index.js';
import { OperatorCommandError } from './operator-commands.js';
import type { Ward } from './ward.js';

export interface AuditArchiveArgs {
  /** YYYY-MM-DD: partitions whose month ends on or before this day are archived. */
  readonly before: string;
  /** An absolute directory the archive files are written to. */
  readonly outDir: string;
}

export interface ArchivedPartitionSummary {
  readonly partition: string;
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly treeSize: number;
  readonly files: readonly string[];
  readonly sha256: string;
}

export interface AuditArchiveResult {
  readonly before: string;
  /** Entries recorded on or after this instant are inside the retention period and stay. */
  readonly retainedFrom: string;
  readonly archived: readonly ArchivedPartitionSummary[];
}

/**
 * `ward audit archive --before <date> --out <dir>` (ADR 0008): each month partition that ended on
 * or before the date, and before the retention period (WARD_AUDIT_RETENTION_YEARS, at least six —
 * 45 CFR 164.316(b)(2)(i)), is exported with its inclusion proofs against a signed head, the files
 * fsynced and read back and checked; only then, in one owner transaction, are its leaf hashes
 * kept, the archive recorded, the partition dropped and the drop audited. A date inside the
 * retention period is refused, and the refusal audited.
 */
export async function auditArchive(
  ward: Ward,
  operator: Principal,
  ctx: RequestContext,
  args: AuditArchiveArgs,
): Promise<AuditArchiveResult> {
  const before = parseDay(args.before);
  if (!isAbsolute(args.outDir)) throw new OperatorCommandError('--out must be an absolute directory');
  const now = ward.now();
  const retainedFrom = new Date(now);
  retainedFrom.setUTCFullYear(now.getUTCFullYear() - ward.config.auditRetentionYears);
  if (before > retainedFrom) {
    await ward.vault.recordAdministrative(operator, ctx, 'audit-archive', {
      status: 403,
      code: 'WARD_POLICY_DENIED',
      detail: { before: args.before, retainedFrom: retainedFrom.toISOString(), result: 'refused: inside the retention period' },
    });
    throw new OperatorCommandError(
      `--before ${args.before} is inside the audit retention period of ${ward.config.auditRetentionYears} years: entries recorded after ${retainedFrom.toISOString()} must stay in the database (45 CFR 164.316(b)(2)(i))`,
    );
  }
  const archived: ArchivedPartitionSummary[] = [];
  for (const partition of await listAuditPartitions(ward.db)) {
    if (partition.to > before) continue;
    let exported: Awaited<ReturnType<typeof exportPartition>>;
    try {
      exported = await exportPartition(ward.db, partition, { outDir: args.outDir, publicKey: ward.auditKey.publicKey });
      // Read back from disk and checked before anything is dropped.
      const check = await checkArchive(exported.files, ward.auditKey.publicKey);
      if (check.entries !== exported.entries) throw new AuditArchiveError(`${exported.files.ndjson}: entries missing on disk`);
    } catch (e) {
      if (!(e instanceof AuditArchiveError)) throw e;
      await ward.vault.recordAdministrative(operator, ctx, 'audit-archive', {
        status: 409,
        code: 'WARD_CONFLICT',
        detail: { partition: partition.name, result: 'refused: export not possible' },
      });
      throw new OperatorCommandError(e.message);
    }
    const detail = {
      partition: partition.name,
      from: partition.from.toISOString(),
      to: partition.to.toISOString(),
      entries: String(exported.entries),
      firstSeq: String(exported.firstSeq ?? ''),
      lastSeq: String(exported.lastSeq ?? ''),
      treeSize: String(exported.head.treeSize),
      file: exported.files.ndjson,
      sha256: exported.sha256,
    };
    await asOwner(ward, async (owner) =>
      owner.transaction(async (tx) => {
        await dropArchivedPartition(
          tx,
          {
            partition: partition.name,
            from: partition.from,
            to: partition.to,
            entries: exported.entries,
            firstSeq: exported.firstSeq,
            lastSeq: exported.lastSeq,
            headTreeSize: exported.head.treeSize,
            file: exported.files.ndjson,
            sha256: exported.sha256,
            archivedAt: ward.now(),
          },
          { entries: exported.entries, lastSeq: exported.lastSeq },
        );
        await ward.vault.recordAdministrativeIn(tx, operator, ctx, 'audit-archive', { status: 200, detail });
      }),
    );
    archived.push({
      partition: partition.name,
      entries: exported.entries,
      firstSeq: exported.firstSeq,
      lastSeq: exported.lastSeq,
      treeSize: exported.head.treeSize,
      files: [exported.files.ndjson, exported.files.head, exported.files.digests],
      sha256: exported.sha256,
    });
  }
  return { before: args.before, retainedFrom: retainedFrom.toISOString(), archived };
}

export interface PartitionsReport {
  readonly created: number;
  readonly partitions: readonly { readonly name: string; readonly from: string; readonly to: string; readonly entries: number }[];
  /** Rows of months that had no partition when they arrived (see ADR 0008). */
  readonly defaultPartitionRows: number;
}

/**
 * `ward audit partitions`: as the owner, creates the partitions of the current month and the
 * twelve after it (what every start does too — for a server that runs for months, schedule this
 * monthly), and lists the month partitions with their entry counts.
 */
export async function auditPartitions(ward: Ward, operator: Principal, ctx: RequestContext): Promise<PartitionsReport> {
  const created = await asOwner(ward, (owner) => ensureAuditPartitions(owner, ward.now(), AUDIT_PARTITION_MONTHS_AHEAD));
  await ward.vault.recordAdministrative(operator, ctx, 'audit-partitions', { status: 200, detail: { created: String(created) } });
  const partitions = [];
  for (const p of await listAuditPartitions(ward.db)) {
    const summary = await partitionSummary(ward.db, p);
    partitions.push({ name: p.name, from: p.from.toISOString(), to: p.to.toISOString(), entries: summary.entries });
  }
  return { created, partitions, defaultPartitionRows: await countDefaultPartitionRows(ward.db) };
}

/**
 * Runs `fn` with the database owner's connection: DDL on the audit log is the owner's alone. On
 * PGlite that is the one connection; on PostgreSQL a short-lived connection as DATABASE_URL (the
 * serving role the server uses has no DDL and cannot drop a partition).
 */
async function asOwner<T>(ward: Ward, fn: (owner: Database) => Promise<T>): Promise<T> {
  if (ward.db.engine === 'pglite' || !ward.config.databaseUrl) return fn(ward.db);
  const owner = openPostgres(ward.config.databaseUrl, { max: 1, applicationName: 'ward-audit-owner' });
  try {
    return await fn(owner);
  } finally {
    await owner.close();
  }
}

function parseDay(text: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!date || date.toISOString().slice(0, 10) !== text) throw new OperatorCommandError('--before must be a date as YYYY-MM-DD');
  return date;
}
