import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type Principal, parseScopes } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import type { Ward } from './ward.js';

/** `ward reindex` reads current versions to recompute their index rows, and nothing else (invariant 7). */
export function reindexPrincipal(): Principal {
  return {
    id: 'ward:reindex',
    kind: 'system',
    roles: ['system'],
    scopes: parseScopes('system/*.r'),
    clientId: 'ward-reindex',
    purposeOfUse: 'HSYSADMIN',
  };
}

const BATCH = 200;

interface ReindexState {
  readonly resourceType: string | null;
  readonly after?: { resourceType: string; id: string };
  readonly reindexed: number;
}

export interface ReindexReport {
  readonly reindexed: number;
  readonly skipped: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly resumed: boolean;
}

/**
 * Recomputes the search-index rows of every current version (of one type, or all), batch by
 * batch, each batch its own audited transaction. After each batch the cursor is saved in
 * `stateFile`, so a run that was stopped continues where it stood; the file goes when it ends.
 */
export async function reindex(
  ward: Ward,
  ctx: RequestContext,
  resourceType: string | undefined,
  stateFile: string,
  onProgress: (done: number, total: number) => void,
): Promise<ReindexReport> {
  const saved: ReindexState | undefined = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : undefined;
  const resumed = saved !== undefined && saved.resourceType === (resourceType ?? null);
  let state: ReindexState = resumed && saved ? saved : { resourceType: resourceType ?? null, reindexed: 0 };
  const started = process.hrtime.bigint();
  let skipped = 0;
  let reindexedNow = 0;
  for (;;) {
    const batch = await ward.vault.reindex(reindexPrincipal(), ctx, {
      ...(resourceType !== undefined ? { resourceType } : {}),
      ...(state.after ? { after: state.after } : {}),
      limit: BATCH,
    });
    skipped += batch.skipped;
    reindexedNow += batch.reindexed;
    state = {
      resourceType: state.resourceType,
      reindexed: state.reindexed + batch.reindexed,
      ...(batch.next ? { after: batch.next } : {}),
    };
    onProgress(state.reindexed + skipped, batch.total);
    if (!batch.next) break;
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${stateFile}.tmp`, stateFile);
  }
  rmSync(stateFile, { force: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { reindexed: state.reindexed, skipped, seconds, perSecond: seconds > 0 ? reindexedNow / seconds : 0, resumed };
}
