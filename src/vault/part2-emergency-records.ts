import type { AuditEntry } from '../audit/index.js';
import { type BreakGlassGrantRow, type Queryable, searchAuditEntries } from '../store/index.js';

/** A use of a break-glass grant that disclosed Part 2 records, as its audit entry documents it (42 CFR §2.51(c)). */
export interface Part2EmergencyRecord {
  readonly auditEvent: string;
  /** The Part 2 resources disclosed, `Type/id@patient`. */
  readonly disclosed: readonly string[];
  /** (c)(1): the medical personnel who received it, and their affiliation. */
  readonly recipient: string;
  readonly affiliation: string;
  /** (c)(2): who accessed (made the disclosure happen). */
  readonly accessedBy: string;
  /** (c)(3): the date and time. */
  readonly time: string;
  /** (c)(4): the nature of the emergency — the grant's reason code; the justification stays sealed in the grant. */
  readonly nature: string;
  readonly grant: string;
}

/** Most uses listed per grant in the review queue; the AuditEvent search lists them all. */
const PER_GRANT = 100;

/**
 * The §2.51 records of each grant, for the privacy officers' review queue: the entries of the
 * grant's principal on its patient inside its window that name the grant among their Part 2
 * emergency disclosures. Read from the audit log, the single source of truth (ADR 0005).
 */
export async function part2EmergencyRecords(
  q: Queryable,
  grants: readonly BreakGlassGrantRow[],
): Promise<Map<string, Part2EmergencyRecord[]>> {
  const out = new Map<string, Part2EmergencyRecord[]>();
  for (const g of grants) {
    const rows = await searchAuditEntries(
      q,
      { principals: [[g.principal]], patients: [[g.patient]], from: g.startsAt, before: g.endsAt },
      [{ key: 'date', descending: false }],
      { limit: 1000, offset: 0 },
    );
    const records: Part2EmergencyRecord[] = [];
    for (const row of rows) {
      const d = (JSON.parse(row.entry) as AuditEntry).detail ?? {};
      const grant = `break-glass/${g.id}`;
      if (!d['part2.emergency.grant']?.split(' ').includes(grant)) continue;
      records.push({
        auditEvent: `AuditEvent/${row.seq}`,
        disclosed: (d['part2.emergency.disclosed'] ?? '').split(' ').filter((t) => t.endsWith(`@${g.patient}`)),
        recipient: d['part2.emergency.recipient'] ?? '',
        affiliation: d['part2.emergency.affiliation'] ?? '',
        accessedBy: d['part2.emergency.accessedBy'] ?? '',
        time: d['part2.emergency.time'] ?? '',
        nature: d['part2.emergency.nature'] ?? '',
        grant,
      });
      if (records.length >= PER_GRANT) break;
    }
    out.set(g.id, records);
  }
  return out;
}
