import type { Ward } from '../../src/app/ward.js';
import { readAuditRows, type StoredAuditRow } from '../../src/store/index.js';

/** All audit rows after `afterSeq`, parsed; tests read the log the way an auditor's tool would. */
export async function auditRowsAfter(ward: Ward, afterSeq = 0): Promise<(StoredAuditRow & { parsed: any })[]> {
  const rows = await readAuditRows(ward.db, { afterSeq, limit: 100_000 });
  return rows.map((r) => ({ ...r, parsed: JSON.parse(r.entry) }));
}

export async function lastAuditSeq(ward: Ward): Promise<number> {
  const { rows } = await ward.db.query<{ max: unknown }>('SELECT max(seq) AS max FROM ward_audit_entry');
  return Number(rows[0]?.max ?? 0);
}
