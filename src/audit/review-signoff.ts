import { isPlainObject, WardError } from '../fhir/index.js';

/**
 * A privacy officer's sign-off that the activity records of a period were reviewed
 * (45 CFR 164.308(a)(1)(ii)(D)). It is appended to the audit log as an entry of its own — who
 * and when are the entry's principal and time, the period and note its detail — so a review is
 * as tamper-evident as what it reviewed and can never be edited or withdrawn afterwards.
 */
export interface ReviewInput {
  /** First day of the reviewed period (YYYY-MM-DD, UTC). */
  readonly periodStart: string;
  /** Last day of the reviewed period, inclusive. */
  readonly periodEnd: string;
  /** What was looked at and concluded; a short, PHI-free line (the log holds no clinical detail). */
  readonly note: string;
}

export const REVIEW_NOTE_MAX_CHARS = 500;
const KEYS = new Set(['periodStart', 'periodEnd', 'note']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks a submitted review; each refusal names the member and the rule, never the value. */
export function checkReviewInput(body: unknown, now: Date): ReviewInput {
  if (!isPlainObject(body)) throw invalid('$this', 'The body must be a JSON object');
  for (const key of Object.keys(body)) if (!KEYS.has(key)) throw invalid('$this', 'Unknown member; allowed: periodStart, periodEnd, note');
  const periodStart = day(body.periodStart, 'periodStart');
  const periodEnd = day(body.periodEnd, 'periodEnd');
  if (periodEnd < periodStart) throw invalid('periodEnd', 'periodEnd must not be before periodStart');
  if (periodStart > now.toISOString().slice(0, 10)) throw invalid('periodStart', 'a review cannot cover a period that has not begun');
  const note = body.note === undefined ? '' : body.note;
  if (typeof note !== 'string') throw invalid('note', 'note must be a string');
  if ([...note.trim()].length > REVIEW_NOTE_MAX_CHARS) throw invalid('note', `note must be at most ${REVIEW_NOTE_MAX_CHARS} characters`);
  if (CONTROL.test(note)) throw invalid('note', 'note must be one line of text without control characters');
  return { periodStart, periodEnd, note: note.trim() };
}

/** When the next review is due, and whether it is overdue. */
export interface ReviewSchedule {
  readonly intervalDays: number;
  readonly dueBy: string;
  readonly overdue: boolean;
}

/**
 * The next review is due `intervalDays` after the newest sign-off — or, before the first one,
 * after the log's first entry (a new install is not overdue on its first day).
 */
export function reviewSchedule(
  lastReviewAt: Date | undefined,
  logStartedAt: Date | undefined,
  intervalDays: number,
  now: Date,
): ReviewSchedule {
  const from = lastReviewAt ?? logStartedAt ?? now;
  const dueBy = new Date(from.getTime() + intervalDays * 24 * 3600 * 1000);
  return { intervalDays, dueBy: dueBy.toISOString(), overdue: now.getTime() > dueBy.getTime() };
}

function day(value: unknown, path: string): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw invalid(path, `${path} must be a date as YYYY-MM-DD`);
  const probe = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(probe.getTime()) || probe.toISOString().slice(0, 10) !== value) throw invalid(path, `${path} is not a calendar date`);
  return value;
}

function invalid(expression: string, diagnostics: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ expression, diagnostics }] });
}
