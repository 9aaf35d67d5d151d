import type { IncludeSpec } from '../fhir/index.js';
import { type Queryable, referencedResources, referencingResources, type StoredVersion } from '../store/index.js';

/** At most this many resources are included per page; more are left out and the Bundle says so. */
export const MAX_INCLUDED = 1000;
const INCLUDE_BATCH = 500;
/** `:iterate` follows at most this many rounds past the first (R4 lets a server bound it). */
const MAX_ITERATIONS = 3;

export interface IncludeResult {
  readonly rows: readonly StoredVersion[];
  /** Whether some visible resource was left out by MAX_INCLUDED (never said of an invisible one: no existence oracle). */
  readonly truncated: boolean;
}

/**
 * `_include` and `_revinclude` (R4 §3.1.1.5.4) from a page of matches. Every candidate passes
 * `visible` — the same per-row policy decision as a match — before it is kept or followed
 * further, so an include never carries, nor leads on from, a resource the principal may not see
 * (164.312(a)(1)). Non-iterating specs run once from the matches; iterating ones also from what
 * each round included, until nothing new is found or MAX_ITERATIONS.
 */
export async function includedRows(
  db: Queryable,
  specs: readonly IncludeSpec[],
  matches: readonly StoredVersion[],
  /** Decides a batch of candidate rows (loading their patients' facts once) and says which are visible. */
  visible: (rows: readonly StoredVersion[]) => Promise<(row: StoredVersion) => boolean>,
): Promise<IncludeResult> {
  const seen = new Set(matches.map(keyOf));
  const out: StoredVersion[] = [];
  let truncated = false;
  let frontier: readonly StoredVersion[] = matches;
  for (let round = 0; round <= MAX_ITERATIONS && frontier.length > 0 && !truncated; round++) {
    const active = specs.filter((s) => round === 0 || s.iterate);
    if (active.length === 0) break;
    const found: StoredVersion[] = [];
    for (const spec of active) {
      for (const [type, ids] of byType(frontier)) {
        // Invisible rows are dropped after each batch, so batches continue until the answer ends or the page is full.
        for (let offset = 0; !truncated; offset += INCLUDE_BATCH) {
          const rows = await follow(db, spec, type, ids, { limit: INCLUDE_BATCH, offset });
          const isVisible = await visible(rows);
          for (const row of rows) {
            if (seen.has(keyOf(row)) || !isVisible(row)) continue;
            if (found.length + out.length >= MAX_INCLUDED) {
              truncated = true;
              break;
            }
            seen.add(keyOf(row));
            found.push(row);
          }
          if (rows.length < INCLUDE_BATCH) break;
        }
      }
    }
    out.push(...found);
    frontier = found;
  }
  return { rows: out, truncated };
}

function follow(
  db: Queryable,
  spec: IncludeSpec,
  type: string,
  ids: string[],
  page: { limit: number; offset: number },
): Promise<StoredVersion[]> {
  if (spec.reverse) {
    if (spec.targetType !== undefined && spec.targetType !== type) return Promise.resolve([]);
    return referencingResources(db, type, ids, { sourceType: spec.sourceType, param: spec.param }, page);
  }
  if (spec.sourceType !== '*' && spec.sourceType !== type) return Promise.resolve([]);
  return referencedResources(db, type, ids, { param: spec.param, targetType: spec.targetType }, page);
}

function byType(rows: readonly StoredVersion[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.resourceType, [...(out.get(r.resourceType) ?? []), r.id]);
  return out;
}

const keyOf = (r: StoredVersion) => `${r.resourceType}/${r.id}`;
