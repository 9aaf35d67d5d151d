import { isFhirId, isPlainObject, WardError } from '../fhir/index.js';
import { disclosureTime } from './disclosures.js';
import { isPatientDirectedPurpose, isPurposeOfUse, isTpoPurpose } from './purpose-of-use.js';

/**
 * A disclosure a privacy officer records by hand (45 CFR 164.528(b)(2)): when, to whom, what,
 * and why. It becomes an audit entry, and the audit log holds no clinical detail (invariant 5):
 * the description is a short, limited text (at most 200 characters) naming the kind of record
 * disclosed ("immunization record", "lab result for a reportable condition"), never its content.
 */
export interface DisclosureInput {
  readonly patient: string;
  /** A date (YYYY-MM-DD) or an instant with its zone. */
  readonly date: string;
  readonly recipient: { readonly name: string; readonly address?: string };
  readonly description: string;
  /** An HL7 v3 PurposeOfUse code outside treatment, payment, operations and patient requests. */
  readonly purpose: string;
}

export const DESCRIPTION_MAX_CHARS = 200;
const NAME_MAX_CHARS = 200;
const ADDRESS_MAX_CHARS = 300;
const KEYS = new Set(['patient', 'date', 'recipient', 'description', 'purpose']);
const RECIPIENT_KEYS = new Set(['name', 'address']);
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2}))?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks a submitted disclosure; every refusal names the member and the rule, never the value. */
export function checkDisclosureInput(body: unknown, now: Date): DisclosureInput {
  if (!isPlainObject(body)) throw invalid('$this', 'The body must be a JSON object');
  for (const key of Object.keys(body))
    if (!KEYS.has(key)) throw invalid('$this', 'Unknown member; allowed: patient, date, recipient, description, purpose');
  const recipient = body.recipient;
  if (!isPlainObject(recipient)) throw invalid('recipient', 'recipient must be an object with name and, if known, address');
  for (const key of Object.keys(recipient))
    if (!RECIPIENT_KEYS.has(key)) throw invalid('recipient', 'Unknown member; allowed: name, address');

  const patientRaw = text(body.patient, 'patient', 64 + 'Patient/'.length);
  const patient = patientRaw.startsWith('Patient/') ? patientRaw.slice('Patient/'.length) : patientRaw;
  if (!isFhirId(patient)) throw invalid('patient', 'patient must be a Patient id');

  const date = text(body.date, 'date', 40);
  const time = disclosureTime(date);
  if (!DATE.test(date) || Number.isNaN(time) || !validCalendarDate(date))
    throw invalid('date', 'date must be YYYY-MM-DD or an instant with a zone');
  if (time > now.getTime()) throw invalid('date', 'date may not be in the future');

  const name = text(recipient.name, 'recipient.name', NAME_MAX_CHARS);
  const address = recipient.address === undefined ? undefined : text(recipient.address, 'recipient.address', ADDRESS_MAX_CHARS);
  const description = text(body.description, 'description', DESCRIPTION_MAX_CHARS);

  const purpose = text(body.purpose, 'purpose', 20);
  if (!isPurposeOfUse(purpose)) throw invalid('purpose', 'purpose must be an HL7 v3 PurposeOfUse code such as PUBHLTH');
  if (isTpoPurpose(purpose)) throw invalid('purpose', 'Treatment, payment and operations are not accounted for (45 CFR 164.528(a)(1)(i))');
  if (isPatientDirectedPurpose(purpose))
    throw invalid('purpose', 'Disclosures requested by the patient are not accounted for (45 CFR 164.528(a)(1))');

  return { patient, date, recipient: { name, ...(address ? { address } : {}) }, description, purpose };
}

/** A trimmed, non-empty, single-line string of at most `max` characters. */
function text(value: unknown, path: string, max: number): string {
  if (typeof value !== 'string') throw invalid(path, `${path} must be a string`);
  const trimmed = value.trim();
  if (trimmed === '') throw invalid(path, `${path} must not be empty`);
  if ([...trimmed].length > max) throw invalid(path, `${path} must be at most ${max} characters`);
  if (CONTROL.test(trimmed)) throw invalid(path, `${path} must be one line of text without control characters`);
  return trimmed;
}

function validCalendarDate(date: string): boolean {
  const [y, m, d] = date.slice(0, 10).split('-').map(Number) as [number, number, number];
  const probe = new Date(Date.UTC(y, m - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === m - 1 && probe.getUTCDate() === d;
}

function invalid(expression: string, diagnostics: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ expression, diagnostics }] });
}
