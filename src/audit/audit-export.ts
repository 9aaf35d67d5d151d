import { type AuditEntry, outcomeLabel } from './audit-entry.js';
import { auditEventOf } from './audit-event-view.js';

/**
 * Exports of the audit log (170.315(d)(3)) as text chunks, produced while the rows are read, so an
 * export of any size is never held in memory as one string: FHIR NDJSON (one AuditEvent a line),
 * a FHIR `collection` Bundle of AuditEvents, or CSV with one row per entry.
 */
export const EXPORT_FORMATS = ['ndjson', 'csv', 'bundle'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRow {
  readonly seq: number;
  readonly entry: AuditEntry;
}

export const CSV_COLUMNS = [
  'seq',
  'time',
  'principal',
  'roles',
  'client',
  'action',
  'outcome',
  'status',
  'code',
  'patient',
  'resource_type',
  'resource_id',
  'address',
  'purpose_of_use',
] as const;

/** A chunk is flushed once it holds about this many characters. */
const CHUNK_CHARS = 64 * 1024;

export async function* exportChunks(
  format: ExportFormat,
  rows: AsyncIterable<ExportRow>,
  options: { readonly fhirBase: string; readonly timestamp: Date },
): AsyncGenerator<string> {
  let chunk = '';
  let first = true;
  if (format === 'csv') chunk = `${CSV_COLUMNS.join(',')}\r\n`;
  if (format === 'bundle') {
    chunk = `{"resourceType":"Bundle","type":"collection","timestamp":${JSON.stringify(options.timestamp.toISOString())},"entry":[`;
  }
  for await (const { seq, entry } of rows) {
    if (format === 'csv') {
      chunk += `${csvRow(seq, entry)}\r\n`;
    } else if (format === 'ndjson') {
      chunk += `${JSON.stringify(auditEventOf(seq, entry))}\n`;
    } else {
      chunk += `${first ? '' : ','}${JSON.stringify({ fullUrl: `${options.fhirBase}/AuditEvent/${seq}`, resource: auditEventOf(seq, entry) })}`;
    }
    first = false;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (format === 'bundle') chunk += ']}';
  if (chunk) yield chunk;
}

export function csvRow(seq: number, entry: AuditEntry): string {
  const values: Record<(typeof CSV_COLUMNS)[number], string> = {
    seq: String(seq),
    time: entry.time,
    principal: entry.who.id,
    roles: entry.who.roles.join(' '),
    client: entry.who.clientId ?? '',
    action: entry.action,
    outcome: outcomeLabel(entry.outcome),
    status: String(entry.outcome.status),
    code: entry.outcome.code ?? '',
    patient: entry.patientId ?? '',
    resource_type: entry.resourceType ?? '',
    resource_id: entry.resourceId ?? '',
    address: entry.where.address ?? '',
    purpose_of_use: entry.purposeOfUse,
  };
  return CSV_COLUMNS.map((c) => csvCell(values[c])).join(',');
}

/**
 * One RFC 4180 cell. A cell a spreadsheet would read as a formula (=, +, -, @, tab, CR) is prefixed
 * with an apostrophe: values such as a client id are chosen by others (OWASP CSV injection).
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
