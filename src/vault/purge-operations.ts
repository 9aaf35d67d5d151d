import type { RequestContext } from '../audit/index.js';
import { isFhirId, WardError } from '../fhir/index.js';
import { decide, type Principal } from '../policy/index.js';
import { purgeResource, readCurrent } from '../store/index.js';
import type { OperationDeps } from './audited-runner.js';
import { decideOnType } from './vault-steps.js';

export interface PurgeResult {
  /** How many versions (the tombstone included) were removed. */
  readonly versions: number;
}

/**
 * Hard purge (164.312(c)(1); ADR 0018): a resource with every version, its current pointer and
 * its search-index rows removed in one transaction together with its audit entry, which names the
 * type, the id, the patients whose compartment held it and how many versions went — never
 * content. Only the `purge` role is permitted (the policy decides, as for any action); every other
 * role, `system` and `system-admin` included, is refused with 403 before anything is loaded, and
 * the refusal is audited. The purge role never opens the resource: it cannot read PHI, so it is
 * decided on the type, the id and the compartment only.
 */
export class PurgeOperations {
  readonly #deps: OperationDeps;

  constructor(deps: OperationDeps) {
    this.#deps = deps;
  }

  async resource(principal: Principal, ctx: RequestContext, resourceType: string, id: string): Promise<PurgeResult> {
    const op = this.#deps.op(principal, ctx, 'purge', resourceType, id);
    return this.#deps.run.write(
      op,
      { transactional: true },
      async (tx) => {
        decideOnType(op, 'purge');
        // Locks the current pointer: a concurrent write either commits first (and is purged) or finds no pointer.
        const row = isFhirId(id) ? await readCurrent(tx, resourceType, id, true) : undefined;
        if (!row) throw new WardError('WARD_NOT_FOUND');
        op.resourceId = row.id;
        op.patients = row.patients;
        op.versionId = row.versionId;
        op.decision = decide(principal, 'purge', { resourceType, id: row.id, patients: row.patients }, op.typeFacts);
        if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
        const versions = await purgeResource(tx, resourceType, row.id);
        op.detail = { ...op.detail, purgedVersions: String(versions) };
        return { versions };
      },
      () => 200,
    );
  }
}
