import type { AuditAction, AuditEntry } from './audit-entry.js';
import { purposeOfUseDisplay } from './purpose-of-use.js';

/**
 * The accounting of Part 2 consented disclosures (42 CFR §2.25(a), §2.24): which audit entries
 * disclosed a patient's Part 2 records under a consent, and how each is listed — date,
 * recipient, what, under which Consent — with, for consents that named the recipients through
 * an organization (an intermediary's general designation), the list of recipients. Pure; the
 * entries carry the Part 2 fields the vault recorded when the data left (ADR 0016).
 */
export interface Part2Disclosure {
  readonly date: string;
  readonly recipient: { readonly name: string; readonly client?: string; readonly affiliation?: string };
  readonly description: string;
  readonly purpose: { readonly code: string; readonly display?: string };
  /** The Consents it was made under (`Consent/<id>`). */
  readonly consents: readonly string[];
  /** The intermediary the consent designated, when the recipient was named through one. */
  readonly intermediary?: string;
  readonly auditEvent: string;
}

/** §2.24: for each intermediary a consent designated, who received the patient's records through it. */
export interface IntermediaryRecipients {
  readonly intermediary: string;
  readonly consents: readonly string[];
  readonly recipients: readonly string[];
}

/** §2.25(a): the accounting covers the 3 years before the request. */
export const PART2_ACCOUNTING_YEARS = 3;

/** Entries that can disclose Part 2 records from Ward: the data-returning interactions. */
export const PART2_DISCLOSING_ACTIONS: readonly AuditAction[] = ['read', 'vread', 'search', 'history'];

export function part2AccountingWindowStart(now: Date): Date {
  const start = new Date(now);
  start.setUTCFullYear(start.getUTCFullYear() - PART2_ACCOUNTING_YEARS);
  return start;
}

const tokensOf = (value: string | undefined): string[] => (value ?? '').split(' ').filter(Boolean);

/** The Part 2 consented disclosure an entry records for this patient, if it records one. */
export function part2DisclosureOf(seq: number, entry: AuditEntry, patientId: string): Part2Disclosure | undefined {
  if (!PART2_DISCLOSING_ACTIONS.includes(entry.action) || entry.outcome.status >= 400) return undefined;
  const d = entry.detail ?? {};
  const mine = (t: string) => t.endsWith(`@${patientId}`);
  const strip = (t: string) => t.slice(0, t.lastIndexOf('@'));
  const disclosed = [...new Set(tokensOf(d['part2.disclosed']).filter(mine).map(strip))];
  const consents = [...new Set(tokensOf(d['part2.consents']).filter(mine).map(strip))];
  if (disclosed.length === 0 || consents.length === 0) return undefined;
  const intermediary = tokensOf(d['part2.intermediaries'])
    .map((t) => t.split('>') as [string, string])
    .find(([consent]) => consents.includes(consent))?.[1];
  const display = purposeOfUseDisplay(entry.purposeOfUse);
  return {
    date: entry.time,
    recipient: {
      name: entry.who.id,
      ...(entry.who.clientId ? { client: entry.who.clientId } : {}),
      ...(d['part2.affiliation'] ? { affiliation: d['part2.affiliation'] } : {}),
    },
    description: `${entry.action} of ${entry.resourceId ? `${entry.resourceType}/${entry.resourceId}` : (entry.resourceType ?? 'all types')}: Part 2 record(s) ${disclosed.join(', ')}`,
    purpose: { code: entry.purposeOfUse, ...(display ? { display } : {}) },
    consents,
    ...(intermediary ? { intermediary } : {}),
    auditEvent: `AuditEvent/${seq}`,
  };
}

/** The accounting over [from, before): disclosures by date (then log order), and the recipients per intermediary. */
export function part2AccountingOf(
  rows: Iterable<{ readonly seq: number; readonly entry: AuditEntry }>,
  patientId: string,
  window: { readonly from: Date; readonly before: Date },
): { disclosures: Part2Disclosure[]; intermediaries: IntermediaryRecipients[] } {
  const found: { disclosure: Part2Disclosure; time: number; seq: number }[] = [];
  for (const { seq, entry } of rows) {
    const disclosure = part2DisclosureOf(seq, entry, patientId);
    const time = Date.parse(entry.time);
    if (!disclosure || time < window.from.getTime() || time >= window.before.getTime()) continue;
    found.push({ disclosure, time, seq });
  }
  const disclosures = found.sort((a, b) => a.time - b.time || a.seq - b.seq).map((f) => f.disclosure);
  const byIntermediary = new Map<string, { consents: Set<string>; recipients: Set<string> }>();
  for (const d of disclosures) {
    if (!d.intermediary) continue;
    const group = byIntermediary.get(d.intermediary) ?? { consents: new Set(), recipients: new Set() };
    for (const c of d.consents) group.consents.add(c);
    group.recipients.add(d.recipient.name);
    byIntermediary.set(d.intermediary, group);
  }
  const intermediaries = [...byIntermediary].map(([intermediary, g]) => ({
    intermediary,
    consents: [...g.consents].sort(),
    recipients: [...g.recipients].sort(),
  }));
  return { disclosures, intermediaries };
}
