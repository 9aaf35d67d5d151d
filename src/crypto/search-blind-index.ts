import { calendarBlocks, type DateRange, type IndexValue, lookupPrefix, normalizeString, prefixesOf } from '../fhir/index.js';
import type { BlindIndexer } from './blind-index.js';

/**
 * Blind indexes of identifying search values (ARCHITECTURE.md, Search over encrypted data). Every
 * hash is HMAC-SHA-256 under the blind-index key with a label naming its purpose, the resource
 * type and the parameter, so equal values under different parameters never share a hash.
 */
const NO_SYSTEM = '\u0000none';
const ANY_SYSTEM = '\u0000any';

/**
 * Hashes of the display texts of codes (`param:text`), per key: the same few thousand code texts
 * recur on every Observation, Condition and Procedure, and hashing them again was a fifth of an
 * import's index work. Bounded; emptied when full. Other strings (names, addresses) are not kept.
 */
const textHashes = new WeakMap<BlindIndexer, Map<string, string[]>>();
const TEXT_HASHES_MAX = 20_000;

/**
 * The hashes stored for one identifying value of a resource (strings, Identifier/ContactPoint
 * tokens, person dates), as hex: a write stores some twenty per resource, and a Buffer each
 * (with its own backing store) was a good part of an import's garbage collection.
 */
export function blindHashesOf(indexer: BlindIndexer, resourceType: string, v: IndexValue): string[] {
  if (v.kind === 'string' && v.param.endsWith(':text')) {
    let cache = textHashes.get(indexer);
    if (!cache) {
      cache = new Map();
      textHashes.set(indexer, cache);
    }
    const key = `${resourceType}\u001f${v.param}\u001f${v.raw}\u001f${v.normalized}`;
    const hit = cache.get(key);
    if (hit) return hit;
    if (cache.size >= TEXT_HASHES_MAX) cache.clear();
    const hashes = hashesOf(indexer, resourceType, v);
    cache.set(key, hashes);
    return hashes;
  }
  return hashesOf(indexer, resourceType, v);
}

function hashesOf(indexer: BlindIndexer, resourceType: string, v: IndexValue): string[] {
  switch (v.kind) {
    case 'string':
      return [
        indexer.hashHex('search-string-exact', resourceType, v.param, v.raw),
        ...prefixesOf(v.normalized).map((p) => indexer.hashHex('search-string-prefix', resourceType, v.param, p)),
      ];
    case 'token':
      return [
        indexer.hashHex('search-token', resourceType, v.param, v.system ?? NO_SYSTEM, v.code),
        indexer.hashHex('search-token', resourceType, v.param, ANY_SYSTEM, v.code),
        ...(v.system ? [indexer.hashHex('search-token-system', resourceType, v.param, v.system)] : []),
      ];
    case 'date': {
      const r = v.range as Partial<DateRange>;
      return [r.year, r.month, r.day]
        .filter((p): p is string => p !== undefined)
        .map((p) => indexer.hashHex('search-date', resourceType, v.param, p));
    }
    default:
      return [];
  }
}

/** The hash a starts-with (default) string search looks up: the query's first MAX_PREFIX normalised characters. */
export function stringPrefixHash(indexer: BlindIndexer, resourceType: string, param: string, query: string): Buffer {
  return indexer.hash('search-string-prefix', resourceType, param, lookupPrefix(normalizeString(query)));
}

export function stringExactHash(indexer: BlindIndexer, resourceType: string, param: string, query: string): Buffer {
  return indexer.hash('search-string-exact', resourceType, param, query.trim());
}

/** A token criterion's hash: `system|code`, `|code` (system null), `code` (system undefined) or `system|` (code undefined). */
export function tokenHash(
  indexer: BlindIndexer,
  resourceType: string,
  param: string,
  system: string | null | undefined,
  code: string | undefined,
): Buffer {
  if (code === undefined) return indexer.hash('search-token-system', resourceType, param, system ?? NO_SYSTEM);
  return indexer.hash('search-token', resourceType, param, system === undefined ? ANY_SYSTEM : (system ?? NO_SYSTEM), code);
}

/** Hashes of the calendar blocks covering [low, high): a birth-date range asked by year/month/day enumeration. */
export function dateBlockHashes(
  indexer: BlindIndexer,
  resourceType: string,
  param: string,
  low: number,
  high: number,
  now: Date,
): Buffer[] {
  return calendarBlocks(low, high, now).map((b) => indexer.hash('search-date', resourceType, param, b));
}

/** The hash of a date at its own precision (equality on a blind-indexed date). */
export function datePrecisionHash(indexer: BlindIndexer, resourceType: string, param: string, range: DateRange): Buffer {
  return indexer.hash('search-date', resourceType, param, range.day ?? range.month ?? range.year);
}
