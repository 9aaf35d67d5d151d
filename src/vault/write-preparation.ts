import type { Keyring } from '../crypto/index.js';
import { categoriesOf, type FhirResource, isPlainObject, patientCompartmentOf, WardError } from '../fhir/index.js';
import { authorsOf, type Decision, decide, type PolicyAction, type PolicyFacts, type Principal, withLabels } from '../policy/index.js';
import type { Queryable, StoredVersion, WriteMethod } from '../store/index.js';
import { markBreakGlass, type OperationRecord } from './audit-trail.js';
import { withoutPart2Extensions } from './part2-disclosure.js';
import { patientsOfRow, withNewPatientUnit } from './policy-facts.js';
import { sealResource } from './sealing.js';
import { searchRowsOf } from './search-index.js';
import { securityOf } from './vault-steps.js';
import type { DeleteResult, WriteResult } from './vault-types.js';

export interface PrepareDeps {
  readonly keyring: Keyring;
  readonly now: () => Date;
  /** The vault's decision on a stored row, given the facts loaded for its patients. */
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts) => Decision;
  /** The policy facts for the principal and some patients, read through `q` (the write's own transaction). */
  readonly facts: (q: Queryable, principal: Principal, patients: Iterable<string>) => Promise<PolicyFacts>;
}

/** Decides on a write and prepares its sealed version in `op.pending`; the runner commits it with its audit entry. */
export async function prepareVersion(
  deps: PrepareDeps,
  q: Queryable,
  op: OperationRecord,
  resource: FhirResource & { id?: string },
  action: 'create' | 'update' | 'patch',
  current: StoredVersion | undefined,
  method: WriteMethod,
  ifMatch?: number,
): Promise<WriteResult> {
  const id = resource.id as string;
  op.resourceId = id;
  const patients = patientCompartmentOf({ ...resource, id });
  op.patients = patients;
  const effective: PolicyAction = current ? action : 'create';
  const principal = op.principal as Principal;
  const facts = await deps.facts(q, principal, [...patients, ...(current ? patientsOfRow(current) : [])]);
  // No existence oracle (164.312(a)(1)): the stored row is decided on first, and a row the caller may
  // not see answers exactly as a missing id does — before If-Match or the new content can tell them apart.
  if (current) refuseHiddenRow(deps, op, effective, current, facts);
  else if (action !== 'create') refuseClientChosenId(op);
  if (ifMatch !== undefined && (!current || current.deleted || current.versionId !== ifMatch)) throw new WardError('WARD_VERSION_CONFLICT');
  const versionId = (current?.versionId ?? 0) + 1;
  const lastUpdated = deps.now();
  // The Part 2 notice and Consent references describe one disclosure (ADR 0016): a copy written back does not store them.
  const meta: Record<string, unknown> = isPlainObject(resource.meta) ? { ...resource.meta } : {};
  if (Array.isArray(meta.extension)) {
    const kept = withoutPart2Extensions(meta.extension);
    if (kept.length > 0) meta.extension = kept;
    else delete meta.extension;
  }
  // Sensitivity labels are assigned from codes at every write (ADR 0009), so stored resources
  // carry them, and policy decides on the labels the version will be stored with.
  const stored = withLabels({
    ...resource,
    id,
    meta: { ...meta, versionId: String(versionId), lastUpdated: lastUpdated.toISOString() },
  }) as FhirResource & { id: string };
  // The principal must be allowed both where the resource is now and where it would be after the write.
  const decisions: Decision[] = [
    decide(
      principal,
      effective,
      {
        resourceType: resource.resourceType,
        id,
        patients,
        categories: categoriesOf(resource),
        security: securityOf(stored),
        authors: authorsOf(stored),
      },
      current ? facts : withNewPatientUnit(facts, stored),
    ),
  ];
  // A tombstone still belongs where its resource was: writing over it needs access there too.
  if (current) decisions.push(deps.permits(principal, effective, current, facts));
  const refusal = decisions.find((d) => d.effect !== 'permit');
  op.decision = refusal ?? decisions[0];
  if (!refusal) for (const d of decisions) markBreakGlass(op, d);
  if (refusal) throw new WardError('WARD_POLICY_DENIED');

  op.versionId = versionId;
  op.pending = {
    version: {
      resourceType: resource.resourceType,
      id,
      versionId,
      lastUpdated,
      method: current ? method : method === 'PATCH' ? 'PUT' : method,
      sealed: sealResource(deps.keyring, stored, versionId),
      patients,
    },
    searchRows: searchRowsOf(deps.keyring.blindIndexer, stored),
  };
  return { resource: stored, versionId, lastUpdated, outcome: current && !current.deleted ? 'updated' : 'created' };
}

/**
 * A write over a stored row the caller may not change: 403 when it may at least see the row (it
 * knows the row exists), otherwise 404 with the body of a missing id.
 */
function refuseHiddenRow(deps: PrepareDeps, op: OperationRecord, action: PolicyAction, current: StoredVersion, facts: PolicyFacts): void {
  const decision = deps.permits(op.principal as Principal, action, current, facts);
  if (decision.effect === 'permit') return;
  op.decision = decision;
  const seen = deps.permits(op.principal as Principal, 'read', current, facts).effect === 'permit';
  throw new WardError(seen ? 'WARD_POLICY_DENIED' : 'WARD_NOT_FOUND');
}

/**
 * Update-as-create with a client-chosen id is for services only (`system` principals: imports,
 * integrations that bring their ids). For anyone else it would be an existence oracle — an id that
 * is free creates (201), one taken by a hidden resource cannot — so a missing id answers 404 like a
 * hidden one; people create with POST and get a server id.
 */
function refuseClientChosenId(op: OperationRecord): void {
  const principal = op.principal as Principal;
  if (principal.kind === 'system') return;
  op.decision = {
    effect: 'deny',
    reasons: [...(op.decision?.reasons ?? []), 'update-as-create: only a service principal creates with a client-chosen id'],
  };
  throw new WardError('WARD_NOT_FOUND');
}

/** Prepares the tombstone version of a delete in `op.pending`. */
export function prepareTombstone(now: () => Date, op: OperationRecord, current: StoredVersion, ifMatch?: number): DeleteResult {
  if (current.deleted) return { outcome: 'already-deleted' };
  if (ifMatch !== undefined && ifMatch !== current.versionId) throw new WardError('WARD_VERSION_CONFLICT');
  const versionId = current.versionId + 1;
  op.versionId = versionId;
  op.pending = {
    version: {
      resourceType: current.resourceType,
      id: current.id,
      versionId,
      lastUpdated: now(),
      method: 'DELETE',
      sealed: null,
      patients: current.patients,
    },
  };
  return { outcome: 'deleted', versionId };
}
