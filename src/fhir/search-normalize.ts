/** The longest prefix kept for starts-with string search; longer queries are checked on the opened resource. */
export const MAX_PREFIX = 8;

/**
 * The form string search compares (R4 §3.1.1.5.6): accents stripped (NFKD, combining marks
 * dropped), case folded, whitespace collapsed and trimmed.
 */
export function normalizeString(value: string): string {
  return value.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Prefixes of length 1..MAX_PREFIX of a normalised value (counted in code points). */
export function prefixesOf(normalized: string): string[] {
  const chars = [...normalized];
  const out: string[] = [];
  for (let n = 1; n <= Math.min(MAX_PREFIX, chars.length); n++) out.push(chars.slice(0, n).join(''));
  return out;
}

/** The prefix a query is looked up by: the whole query, cut to MAX_PREFIX code points. */
export function lookupPrefix(normalized: string): string {
  return [...normalized].slice(0, MAX_PREFIX).join('');
}
