import type { BlindIndexer } from '../crypto/index.js';
import type { ConditionalCriteria, Criterion } from '../fhir/index.js';
import type { Decision, PolicyAction, Principal } from '../policy/index.js';
import { type Queryable, type StoredVersion, searchResources } from '../store/index.js';
import { conditionsOf, longStringChecks } from './search-conditions.js';
import { startsWithAll } from './search-operations.js';
import type { VersionedResource } from './vault-types.js';

/** Rows fetched per round trip while looking for visible matches. */
const MATCH_BATCH = 100;

export interface ConditionalDeps {
  readonly indexer: BlindIndexer;
  readonly now: () => Date;
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion) => Decision;
  readonly open: (row: StoredVersion) => VersionedResource;
}

/**
 * The current resources a condition selects, as FHIR search would find them (same criteria, same
 * store conditions, same long-string confirmation), keeping only those the principal may search:
 * a condition never reveals, by "several match", a resource the caller cannot see. At most `limit`.
 */
export async function conditionalMatches(
  deps: ConditionalDeps,
  q: Queryable,
  principal: Principal,
  resourceType: string,
  condition: ConditionalCriteria,
  limit: number,
): Promise<StoredVersion[]> {
  const conditions = conditionsOf(deps.indexer, resourceType, condition.criteria, deps.now());
  const checks = longStringChecks(condition.criteria);
  const found: StoredVersion[] = [];
  for (let offset = 0; found.length < limit; offset += MATCH_BATCH) {
    const rows = await searchResources(q, resourceType, conditions, [], { limit: MATCH_BATCH, offset });
    for (const row of rows) {
      if (deps.permits(principal, 'search', row).effect !== 'permit') continue;
      if (checks.length > 0 && !startsWithAll(deps.open(row).resource, checks)) continue;
      found.push(row);
      if (found.length === limit) break;
    }
    if (rows.length < MATCH_BATCH) break;
  }
  return found;
}

/**
 * Serialises conditional writes that could select the same resource, so two cannot both find
 * "no match" and create twice: one transaction-scoped advisory lock per value of each criterion
 * whose values are compared for equality (a token by its code whatever its system, so
 * `identifier=sys|X` and `identifier=X` share a lock; a reference by its target id; `_id`; a uri),
 * and one per parameter otherwise (strings match by prefix, dates and numbers by range). Keys are
 * keyed hashes, so identifying values do not appear in pg_locks; they are taken in sorted order
 * (no deadlock between two conditional writes).
 */
export async function lockCondition(
  indexer: BlindIndexer,
  tx: Queryable,
  resourceType: string,
  condition: ConditionalCriteria,
): Promise<void> {
  const keys = new Set(
    condition.criteria.flatMap((c) => {
      const param = paramOf(c);
      const values = equalityValues(c);
      const parts = values.length > 0 ? values.map((v) => [param, v]) : [[param]];
      return parts.map((p) =>
        indexer
          .hash('conditional-lock', resourceType, ...p)
          .readBigInt64BE(0)
          .toString(),
      );
    }),
  );
  for (const key of [...keys].sort()) await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
}

function paramOf(c: Criterion): string {
  return c.kind === 'id' ? '_id' : c.kind === 'lastUpdated' ? '_lastUpdated' : c.param;
}

function equalityValues(c: Criterion): string[] {
  switch (c.kind) {
    case 'token':
      return c.not || c.values.some((v) => v.code === undefined) ? [] : c.values.map((v) => v.code as string);
    case 'reference':
      return c.values.map((v) => v.targetId);
    case 'id':
    case 'uri':
      return [...c.values];
    default:
      return [];
  }
}
