import type { FailureGroup } from '../store/index.js';

/**
 * Review reports over the log (164.308(a)(1)(ii)(D) activity review, 164.308(a)(5)(ii)(C)
 * failed attempts): pure shaping of the store's aggregates into the JSON an auditor reads.
 */
export interface ActionCount {
  readonly action: string;
  readonly success: number;
  readonly failure: number;
  readonly error: number;
  readonly total: number;
}

export interface IdList {
  readonly ids: readonly string[];
  /** More ids exist than the report lists. */
  readonly truncated: boolean;
}

/** One principal's activity in a window (the per-user access report). */
export interface AccessReport {
  readonly principal: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly actions: readonly ActionCount[];
  readonly patients: IdList;
  readonly resources: IdList;
}

/** Counts per action, one row per action with its outcomes side by side. */
export function actionCounts(rows: readonly { action: string; outcome: string; count: number }[]): ActionCount[] {
  const byAction = new Map<string, { success: number; failure: number; error: number }>();
  for (const row of rows) {
    const counts = byAction.get(row.action) ?? { success: 0, failure: 0, error: 0 };
    if (row.outcome === 'success' || row.outcome === 'failure' || row.outcome === 'error') counts[row.outcome] += row.count;
    byAction.set(row.action, counts);
  }
  return [...byAction].map(([action, c]) => ({ action, ...c, total: c.success + c.failure + c.error }));
}

/** A list fetched with one row more than its limit, so that a cut can be reported. */
export function idList(fetched: readonly string[], limit: number): IdList {
  return { ids: fetched.slice(0, limit), truncated: fetched.length > limit };
}

export interface FailureSummary {
  readonly principal: string;
  readonly total: number;
  readonly first: string;
  readonly last: string;
  /** Source addresses the failures came from. */
  readonly addresses: readonly string[];
  readonly byOutcome: readonly { readonly status: number; readonly code: string | null; readonly count: number }[];
}

/** Failed attempts per principal, most first (then by principal id). */
export function failuresByPrincipal(groups: readonly FailureGroup[]): FailureSummary[] {
  const byPrincipal = new Map<string, FailureGroup[]>();
  for (const g of groups) byPrincipal.set(g.principalId, [...(byPrincipal.get(g.principalId) ?? []), g]);
  return [...byPrincipal]
    .map(([principal, list]) => ({
      principal,
      total: list.reduce((n, g) => n + g.count, 0),
      first: new Date(Math.min(...list.map((g) => g.first.getTime()))).toISOString(),
      last: new Date(Math.max(...list.map((g) => g.last.getTime()))).toISOString(),
      addresses: [...new Set(list.flatMap((g) => g.addresses))].sort(),
      byOutcome: list.map((g) => ({ status: g.status, code: g.code, count: g.count })),
    }))
    .sort((a, b) => b.total - a.total || (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0));
}
