import type { RequestContext } from '../audit/index.js';
import type { Decision, PolicyAction, PolicyFacts, Principal } from '../policy/index.js';
import {
  countCurrent,
  type Queryable,
  type ReindexCursor,
  readCurrentAfter,
  replaceSearchRows,
  type StoredVersion,
} from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { AuditedRunner } from './audited-runner.js';
import { searchRowsOf } from './search-index.js';
import { decideOnType } from './vault-steps.js';
import type { VaultDeps, VersionedResource } from './vault-types.js';

export interface ReindexDeps extends VaultDeps {
  readonly run: AuditedRunner;
  readonly op: (principal: Principal, ctx: RequestContext, action: OperationRecord['action'], resourceType?: string) => OperationRecord;
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts) => Decision;
  readonly facts: (q: Queryable, principal: Principal, rows: readonly StoredVersion[]) => Promise<PolicyFacts>;
  readonly open: (row: StoredVersion) => VersionedResource;
}

export interface ReindexBatch {
  readonly reindexed: number;
  /** Resources the principal may not read, left as they were. */
  readonly skipped: number;
  /** Current resources in scope, for a progress bar. */
  readonly total: number;
  /** Where the next batch starts; absent when this batch reached the end. */
  readonly next?: ReindexCursor;
}

/**
 * Recomputes the search-index rows of current versions, one batch per call and per transaction:
 * each row is decided on like a read, decrypted with the keyring, and its rows replaced. One
 * audit entry per batch records the type, the count and the cursor (ids only, never values).
 */
export async function reindexBatch(
  deps: ReindexDeps,
  principal: Principal,
  ctx: RequestContext,
  options: { resourceType?: string; after?: ReindexCursor; limit: number },
): Promise<ReindexBatch> {
  const op = deps.op(principal, ctx, 'reindex', options.resourceType);
  return deps.run.write(
    op,
    { transactional: true },
    async (tx) => {
      decideOnType(op, 'read');
      const rows = await readCurrentAfter(tx, options);
      let reindexed = 0;
      const facts = await deps.facts(tx, principal, rows);
      for (const row of rows) {
        if (deps.permits(principal, 'read', row, facts).effect !== 'permit') continue;
        await replaceSearchRows(tx, row.resourceType, row.id, searchRowsOf(deps.keyring.blindIndexer, deps.open(row).resource));
        reindexed++;
      }
      const last = rows[rows.length - 1];
      const next = rows.length === options.limit && last ? { resourceType: last.resourceType, id: last.id } : undefined;
      op.detail = {
        reindexed: String(reindexed),
        skipped: String(rows.length - reindexed),
        ...(options.after ? { from: `${options.after.resourceType}/${options.after.id}` } : {}),
        ...(last ? { to: `${last.resourceType}/${last.id}` } : {}),
      };
      const total = await countCurrent(tx, options.resourceType);
      return { reindexed, skipped: rows.length - reindexed, total, ...(next ? { next } : {}) };
    },
    () => 200,
  );
}
