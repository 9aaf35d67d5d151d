import type { AuditAction, AuditEntry } from './audit-entry.js';
import { isPatientDirectedPurpose, isTpoPurpose, purposeOfUseDisplay } from './purpose-of-use.js';

/**
 * Accounting of disclosures (45 CFR 164.528, ONC 170.315(d)(11), 170.210(d)): which audit entries
 * are disclosures of a patient's PHI, and how each is listed — date, recipient, what, why. Pure.
 */
export interface Disclosure {
  /** When the PHI was disclosed: the entry's time, or the date a privacy officer recorded. */
  readonly date: string;
  readonly recipient: { readonly name: string; readonly address?: string; readonly client?: string };
  readonly description: string;
  readonly purpose: { readonly code: string; readonly display?: string };
  /** Taken from the log of reads and searches, or recorded by a privacy officer. */
  readonly source: 'access' | 'recorded';
  readonly auditEvent: string;
  readonly recordedBy?: string;
}

/** Entries that can disclose PHI: data-returning interactions, and disclosures recorded by hand. */
export const DISCLOSING_ACTIONS: readonly AuditAction[] = ['read', 'vread', 'search', 'history', 'disclose'];

/** The window of an accounting: 164.528(a)(3) — at most six years before the request. */
export const ACCOUNTING_YEARS = 6;

export function accountingWindowStart(now: Date): Date {
  const start = new Date(now);
  start.setUTCFullYear(start.getUTCFullYear() - ACCOUNTING_YEARS);
  return start;
}

/** The patients an entry concerns: its patient column and, for a search or history page, every compartment it returned. */
export function patientsOf(entry: AuditEntry): string[] {
  const listed = entry.detail?.patients?.split(' ').filter(Boolean) ?? [];
  return [...new Set([...(entry.patientId ? [entry.patientId] : []), ...listed])];
}

/**
 * The disclosure an entry records for this patient, or undefined when it is none or one the
 * accounting leaves out: refused or failed requests (nothing left), treatment, payment and
 * operations (164.528(a)(1)(i)), and disclosures to the patient or at their request ((a)(1)(ii)).
 */
export function disclosureOf(seq: number, entry: AuditEntry, patientId: string): Disclosure | undefined {
  if (!DISCLOSING_ACTIONS.includes(entry.action)) return undefined;
  if (entry.outcome.status >= 400) return undefined;
  if (!patientsOf(entry).includes(patientId)) return undefined;
  const code = entry.purposeOfUse;
  if (isTpoPurpose(code) || isPatientDirectedPurpose(code)) return undefined;
  const display = purposeOfUseDisplay(code);
  const purpose = { code, ...(display ? { display } : {}) };
  const auditEvent = `AuditEvent/${seq}`;

  if (entry.action === 'disclose') {
    const d = entry.detail ?? {};
    if (!d.disclosedAt || !d.recipientName || !d.description) return undefined;
    return {
      date: d.disclosedAt,
      recipient: { name: d.recipientName, ...(d.recipientAddress ? { address: d.recipientAddress } : {}) },
      description: d.description,
      purpose,
      source: 'recorded',
      auditEvent,
      recordedBy: entry.who.id,
    };
  }
  if (entry.who.kind === 'patient' && entry.who.id === `Patient/${patientId}`) return undefined;
  return {
    date: entry.time,
    recipient: { name: entry.who.id, ...(entry.who.clientId ? { client: entry.who.clientId } : {}) },
    description: describeAccess(entry),
    purpose,
    source: 'access',
    auditEvent,
  };
}

/** A short, PHI-free description of what an access returned: the interaction and the resource ids. */
function describeAccess(entry: AuditEntry): string {
  const target = entry.resourceId ? `${entry.resourceType}/${entry.resourceId}` : (entry.resourceType ?? 'all resource types');
  switch (entry.action) {
    case 'search':
      return `search of ${target}: ${entry.returned?.length ?? 0} resource(s) returned`;
    case 'history':
      return `history of ${target}: ${entry.returned?.length ?? 0} version(s) returned`;
    case 'vread':
      return `${entry.action} of ${target}${entry.versionId ? ` version ${entry.versionId}` : ''}`;
    default:
      return `${entry.action} of ${target}`;
  }
}

/** Milliseconds of a disclosure date (a date alone counts from the start of its UTC day). */
export function disclosureTime(date: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T00:00:00.000Z` : date);
}

/**
 * The accounting for one patient over [from, before): every disclosure among the entries, inside
 * the window by its disclosure date, sorted by date (then by log order).
 */
export function accountingOf(
  rows: Iterable<{ readonly seq: number; readonly entry: AuditEntry }>,
  patientId: string,
  window: { readonly from: Date; readonly before: Date },
): Disclosure[] {
  const found: { disclosure: Disclosure; time: number; seq: number }[] = [];
  for (const { seq, entry } of rows) {
    const disclosure = disclosureOf(seq, entry, patientId);
    if (!disclosure) continue;
    const time = disclosureTime(disclosure.date);
    if (Number.isNaN(time) || time < window.from.getTime() || time >= window.before.getTime()) continue;
    found.push({ disclosure, time, seq });
  }
  return found.sort((a, b) => a.time - b.time || a.seq - b.seq).map((f) => f.disclosure);
}
