import { type BlindIndexer, blindHashesOf } from '../crypto/index.js';
import { extractIndexValues, type FhirResource } from '../fhir/index.js';
import type { SearchIndexRows } from '../store/index.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };

/**
 * The search-index rows of a version about to be written: every indexed R4 search parameter of
 * its type, evaluated once per write. Identifying values go only to the blind table, as hashes;
 * clinical values tied to random ids go to the typed tables.
 */
export function searchRowsOf(indexer: BlindIndexer, resource: FhirResource): SearchIndexRows {
  const rows: Mutable<SearchIndexRows> = { token: [], date: [], reference: [], number: [], uri: [], blind: [] };
  const type = resource.resourceType;
  // Per parameter, its distinct hashes (hex).
  const blind = new Map<string, Set<string>>();
  for (const v of extractIndexValues(resource)) {
    const identifying = v.kind === 'string' || ((v.kind === 'token' || v.kind === 'date') && v.identifying);
    if (identifying) {
      let hashes = blind.get(v.param);
      if (!hashes) {
        hashes = new Set();
        blind.set(v.param, hashes);
      }
      for (const hash of blindHashesOf(indexer, type, v)) hashes.add(hash);
      continue;
    }
    switch (v.kind) {
      case 'token':
        rows.token.push({ param: v.param, system: v.system, code: v.code });
        break;
      case 'date':
        rows.date.push({ param: v.param, low: v.range.low, high: v.range.high });
        break;
      case 'reference':
        rows.reference.push({ param: v.param, targetType: v.targetType, targetId: v.targetId });
        break;
      case 'number':
        rows.number.push({ param: v.param, value: v.value, system: v.system, code: v.code });
        break;
      case 'uri':
        rows.uri.push({ param: v.param, uri: v.uri });
        break;
    }
  }
  // Sorted, so the stored order does not tell which hash is the exact value and which a prefix.
  // Lowercase hex sorts as the bytes do.
  rows.blind = [...blind].map(([param, hashes]) => ({ param, hashesHex: [...hashes].sort() }));
  return rows;
}
