import type { BlindIndexer } from '../crypto/index.js';
import { type ConditionalCriteria, type Criterion, WardError } from '../fhir/index.js';
import type { Decision, PolicyAction, PolicyFacts, Principal } from '../policy/index.js';
import { type Queryable, type StoredVersion, searchResources } from '../store/index.js';
import { conditionsOf, confirmationOf } from './search-conditions.js';
import type { VersionedResource } from './vault-types.js';

/** Rows fetched per round trip while looking for visible matches. */
const MATCH_BATCH = 100;

/**
 * The most visible resources a chained or `_has` inner search may match; a broader one is refused
 * (400) rather than turned into an unbounded id list. Counted after policy, so it says nothing
 * about resources the caller cannot see.
 */
export const MAX_INNER_MATCHES = 5000;

export interface MatchDeps {
  readonly indexer: BlindIndexer;
  readonly now: () => Date;
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts) => Decision;
  /** The policy facts for the principal and the patients of a batch of rows (one statement). */
  readonly facts: (q: Queryable, principal: Principal, rows: readonly StoredVersion[]) => Promise<PolicyFacts>;
  readonly open: (row: StoredVersion) => VersionedResource;
}

/**
 * The current resources criteria select, as FHIR search finds them (same criteria, same store
 * conditions, same confirmation on the opened resource for long strings and composites), keeping
 * only those the principal may search, at most `limit`. Conditional writes use it, so a condition
 * never reveals by "several match" a resource the caller cannot see; chained and `_has` criteria
 * use it for their inner searches, so a chain cannot probe for them either.
 */
export async function visibleMatches(
  deps: MatchDeps,
  q: Queryable,
  principal: Principal,
  resourceType: string,
  criteria: readonly Criterion[],
  limit: number,
): Promise<{ row: StoredVersion; decision: Decision }[]> {
  const now = deps.now();
  const conditions = await conditionsOf(deps.indexer, resourceType, criteria, now, (type, inner) =>
    visibleIds(deps, q, principal, type, inner),
  );
  const confirm = confirmationOf(criteria);
  const found: { row: StoredVersion; decision: Decision }[] = [];
  for (let offset = 0; found.length < limit; offset += MATCH_BATCH) {
    const rows = await searchResources(q, resourceType, conditions, [], { limit: MATCH_BATCH, offset });
    const facts = await deps.facts(q, principal, rows);
    for (const row of rows) {
      const decision = deps.permits(principal, 'search', row, facts);
      if (decision.effect !== 'permit') continue;
      if (confirm && !confirm(deps.open(row).resource)) continue;
      found.push({ row, decision });
      if (found.length === limit) break;
    }
    if (rows.length < MATCH_BATCH) break;
  }
  return found;
}

/** The ids a chained or `_has` criterion's inner search selects; refused when it selects more than MAX_INNER_MATCHES. */
export async function visibleIds(
  deps: MatchDeps,
  q: Queryable,
  principal: Principal,
  resourceType: string,
  criteria: readonly Criterion[],
): Promise<string[]> {
  const rows = await visibleMatches(deps, q, principal, resourceType, criteria, MAX_INNER_MATCHES + 1);
  if (rows.length > MAX_INNER_MATCHES) {
    throw new WardError('WARD_INVALID_REQUEST', {
      details: [{ diagnostics: `A chained or _has criterion matches more than ${MAX_INNER_MATCHES} resources; narrow it` }],
    });
  }
  return rows.map(({ row }) => row.id);
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
