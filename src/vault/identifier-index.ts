import type { BlindIndexer } from '../crypto/index.js';
import type { Criteria, FhirResource } from '../fhir/index.js';
import { identifiersOf } from '../fhir/index.js';

/**
 * Identifiers are searchable only through blind indexes (invariant 3): for each Identifier the
 * HMAC of (type, system, value) and of (type, any system, value), so `system|value`, `|value` and
 * `value` criteria each find their match without the value ever reaching the database.
 */
const ANY_SYSTEM = '\u0000any';

export function identifierHashes(indexer: BlindIndexer, resource: FhirResource): Buffer[] {
  return identifiersOf(resource).flatMap((id) => [
    indexer.hash('identifier', resource.resourceType, id.system, id.value),
    indexer.hash('identifier', resource.resourceType, ANY_SYSTEM, id.value),
  ]);
}

/** The OR-groups of hashes that criteria need, ANDed between groups. */
export function criteriaHashes(indexer: BlindIndexer, resourceType: string, criteria: Criteria): Buffer[][] {
  return criteria.identifiers.map((group) =>
    group.map((t) => indexer.hash('identifier', resourceType, t.system === null ? ANY_SYSTEM : t.system, t.value)),
  );
}

/**
 * Lock keys for conditional writes: one per identifier value whatever its system, so
 * `identifier=sys|X` and `identifier=X` — which can match the same resource — share a lock.
 */
export function criteriaLockHashes(indexer: BlindIndexer, resourceType: string, criteria: Criteria): Buffer[] {
  return [
    ...criteria.identifiers.flat().map((t) => indexer.hash('identifier', resourceType, ANY_SYSTEM, t.value)),
    ...(criteria.ids ?? []).map((id) => indexer.hash('lock-id', resourceType, id)),
  ];
}
