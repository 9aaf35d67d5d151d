/** Bounds for open-ended periods, in UTC ms (the range of JavaScript dates). */
export const MIN_MS = -8_640_000_000_000_000;
export const MAX_MS = 8_640_000_000_000_000;

export type DatePrecision = 'year' | 'month' | 'day' | 'time';

/** A FHIR date, dateTime or instant as the half-open range [low, high) of UTC ms it covers. */
export interface DateRange {
  readonly low: number;
  readonly high: number;
  readonly precision: DatePrecision;
  /** The calendar parts, for blind indexes of person dates. */
  readonly year: string;
  readonly month?: string;
  readonly day?: string;
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses a date at its precision: `2020` covers the year, `2020-03` the month, `2020-03-04` the
 * day, a time its second (or millisecond). A time without a zone is read as UTC.
 */
export function parseFhirDate(text: string): DateRange | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, hh, mi, ss, frac, zone] = m;
  const year = Number(y);
  if (mo === undefined) return range(Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1), 'year', y as string);
  const month = Number(mo);
  if (month < 1 || month > 12) return undefined;
  if (d === undefined) return range(Date.UTC(year, month - 1, 1), Date.UTC(year, month, 1), 'month', y as string, mo);
  const day = Number(d);
  const start = Date.UTC(year, month - 1, day);
  if (new Date(start).getUTCDate() !== day) return undefined;
  if (hh === undefined) return range(start, start + 86_400_000, 'day', y as string, mo, d);
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  const offset = zone && zone !== 'Z' ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) : 0;
  const t = Date.UTC(year, month - 1, day, Number(hh), Number(mi), Number(ss ?? 0), ms) - offset * 60_000;
  if (Number.isNaN(t)) return undefined;
  const width = frac ? 1 : ss !== undefined ? 1000 : 60_000;
  return range(t, t + width, 'time', y as string, mo, d);
}

function range(low: number, high: number, precision: DatePrecision, year: string, month?: string, day?: string): DateRange {
  return {
    low,
    high,
    precision,
    year,
    ...(month ? { month: `${year}-${month}` } : {}),
    ...(day ? { day: `${year}-${month}-${day}` } : {}),
  };
}

/**
 * The smallest set of whole years, months and days (as `YYYY`, `YYYY-MM`, `YYYY-MM-DD`) that
 * exactly covers the days of [low, high), clipped to [1850, next year]: how a range search on a
 * blind-indexed birth date is asked without the date being stored.
 */
export function calendarBlocks(low: number, high: number, now: Date): string[] {
  const floor = Date.UTC(1850, 0, 1);
  const ceiling = Date.UTC(now.getUTCFullYear() + 2, 0, 1);
  let t = Math.max(startOfDay(low, true), floor);
  const end = Math.min(startOfDay(high, true), ceiling);
  const out: string[] = [];
  while (t < end) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    const nextYear = Date.UTC(y + 1, 0, 1);
    const nextMonth = Date.UTC(y, m + 1, 1);
    if (m === 0 && d.getUTCDate() === 1 && nextYear <= end) {
      out.push(String(y));
      t = nextYear;
    } else if (d.getUTCDate() === 1 && nextMonth <= end) {
      out.push(`${y}-${pad(m + 1)}`);
      t = nextMonth;
    } else {
      out.push(`${y}-${pad(m + 1)}-${pad(d.getUTCDate())}`);
      t += 86_400_000;
    }
  }
  return out;
}

/** The start of the day holding t (rounding a mid-day bound up when `up`). */
function startOfDay(t: number, up: boolean): number {
  const day = Math.floor(t / 86_400_000) * 86_400_000;
  return up && day < t ? day + 86_400_000 : day;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
