import type { RequestContext } from '../audit/index.js';
import { isFhirId, patientCompartmentOf, WardError } from '../fhir/index.js';
import type { PolicyFacts, Principal } from '../policy/index.js';
import { type Queryable, type ResourceKey, readCurrentLocked, resourceKey } from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { AuditedRunner, NewOperation } from './audited-runner.js';
import { patientsOfRow } from './policy-facts.js';
import { checkBody, decideOnType } from './vault-steps.js';
import { WRITE_STATUS, type WriteResult } from './vault-types.js';
import { type PrepareDeps, prepareVersion } from './write-preparation.js';

/** One update by id of a batch: the resource's type and id (from the request) and the body. */
export interface BatchUpdate extends ResourceKey {
  readonly body: unknown;
}

export interface BatchUpdateDeps {
  readonly run: AuditedRunner;
  readonly prep: PrepareDeps;
  readonly op: NewOperation;
}

/**
 * Updates by id (update-as-create, no If-Match) of distinct resources inside one transaction, with
 * the outcome of running `update` for each in turn, but in a fixed number of round trips: every
 * body is checked, every current version read and locked at once, the policy facts for all their
 * patients loaded once, each write decided and sealed on its own, and all versions with their
 * audit entries (one per update) committed together. `at(k)` names the update being worked on,
 * so that a failure is attributed to it. Facts are loaded before any of the batch is written, so
 * the caller keeps writes that change the principal's facts (policyFactTypesFor) out of a batch.
 */
export async function updateBatch(
  deps: BatchUpdateDeps,
  principal: Principal,
  ctx: RequestContext,
  updates: readonly BatchUpdate[],
  at: (k: number) => void,
): Promise<WriteResult[]> {
  const ops = updates.map((u) => deps.op(principal, ctx, 'update', u.resourceType, u.id));
  const keys = new Set(updates.map(resourceKey));
  if (keys.size !== updates.length) throw new TypeError('a batch updates each resource once');
  return deps.run.writeMany(
    ops,
    async (q: Queryable) => {
      const resources = updates.map((u, k) => {
        at(k);
        const op = ops[k] as OperationRecord;
        decideOnType(op, 'update');
        if (!isFhirId(u.id))
          throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'The id in the URL is not a valid FHIR id' }] });
        const resource = checkBody(u.body, u.resourceType);
        if (resource.id !== u.id) {
          throw new WardError('WARD_ID_MISMATCH', {
            details: [{ expression: `${u.resourceType}.id`, diagnostics: 'Resource.id must be present and equal the id in the URL' }],
          });
        }
        return resource;
      });
      const current = await readCurrentLocked(q, updates);
      const patients = new Set<string>();
      resources.forEach((r, k) => {
        for (const p of patientCompartmentOf(r)) patients.add(p);
        const row = current.get(resourceKey(updates[k] as BatchUpdate));
        if (row) for (const p of patientsOfRow(row)) patients.add(p);
      });
      const facts = await deps.prep.facts(q, principal, patients);
      const prep: PrepareDeps = { ...deps.prep, facts: async (): Promise<PolicyFacts> => facts };
      const results: WriteResult[] = [];
      for (const [k, resource] of resources.entries()) {
        at(k);
        const key = resourceKey(updates[k] as BatchUpdate);
        results.push(await prepareVersion(prep, q, ops[k] as OperationRecord, resource, 'update', current.get(key), 'PUT'));
      }
      return results;
    },
    (r) => WRITE_STATUS[r.outcome],
  );
}
