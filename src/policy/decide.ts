import type { Principal } from './principal.js';
import { POLICY_VERSION, roleAllows } from './role-allow-list.js';
import type { Permission, ResourceScope } from './scopes.js';

export type PolicyAction =
  | 'create'
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'search'
  | 'history-instance'
  | 'history-type'
  | 'history-system';

/** SMART v2 permission each action needs. */
export const PERMISSION_OF: Readonly<Record<PolicyAction, Permission>> = {
  create: 'c',
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  update: 'u',
  patch: 'u',
  delete: 'd',
  search: 's',
  'history-type': 's',
  'history-system': 's',
};

/**
 * What the decision is about. A type-level target (no id) is a query: it is permitted or denied
 * for the type, and each resource it returns is decided again with its id and compartment.
 */
export interface PolicyTarget {
  readonly resourceType?: string;
  readonly id?: string;
  /** Ids of the Patients whose compartment holds the resource. */
  readonly patients?: readonly string[];
  /** Category tokens of the resource (`system|code` and `code`), for granular scopes. */
  readonly categories?: readonly string[];
}

export type Decision =
  | { readonly effect: 'permit'; readonly reasons: readonly string[]; readonly obligations: readonly never[] }
  | { readonly effect: 'deny'; readonly reasons: readonly string[] };

const deny = (reason: string): Decision => ({ effect: 'deny', reasons: [`${POLICY_VERSION}: ${reason}`] });

/**
 * The policy seam: decide(principal, action, target) → permit | deny, with reasons. Pure; the
 * vault calls it before any data is touched. Deny by default (invariant 1): a permit needs a role
 * that allows the action on the type AND a scope that grants it in a context the target fits.
 */
export function decide(principal: Principal, action: PolicyAction, target: PolicyTarget): Decision {
  const permission = PERMISSION_OF[action];
  const type = target.resourceType;
  const label = `${type ?? '*'}.${permission}`;

  const role = principal.roles.find((r) => roleAllows(r, type, permission));
  if (!role) return deny(`no role of the principal allows ${label}`);

  // A patient user only ever reaches their own compartment, whatever scope the token carries.
  if (principal.kind === 'patient') {
    const own = principal.id.slice('Patient/'.length);
    if (principal.patient !== own) return deny('patient principal without its own patient context');
    if (!inCompartment(target, own)) return deny('outside the patient compartment');
  }

  const scope = principal.scopes.resourceScopes.find((s) => scopeGrants(s, principal, permission, target));
  if (!scope) return deny(`no scope grants ${label}`);

  return {
    effect: 'permit',
    reasons: [`${POLICY_VERSION}: role ${role} allows ${label}`, `scope ${scope.text}`],
    obligations: [],
  };
}

function scopeGrants(scope: ResourceScope, principal: Principal, permission: Permission, target: PolicyTarget): boolean {
  if (!scope.permissions.has(permission)) return false;
  if (scope.resourceType !== '*' && scope.resourceType !== target.resourceType) return false;
  switch (scope.context) {
    case 'system':
      if (principal.kind !== 'system') return false;
      break;
    case 'user':
      if (principal.kind !== 'user' && principal.kind !== 'patient') return false;
      break;
    case 'patient':
      if (!principal.patient || !inCompartment(target, principal.patient)) return false;
      break;
  }
  return restrictionHolds(scope, target);
}

/** Type-level targets pass here; each returned resource is checked with its compartment. */
function inCompartment(target: PolicyTarget, patientId: string): boolean {
  if (target.id === undefined) return true;
  if (target.resourceType === 'Patient' && target.id === patientId) return true;
  return (target.patients ?? []).includes(patientId);
}

/** Granular scopes: only `category` is understood; any other restriction grants nothing (fail closed). */
function restrictionHolds(scope: ResourceScope, target: PolicyTarget): boolean {
  if (!scope.restriction) return true;
  for (const [name, values] of scope.restriction) {
    if (name !== 'category') return false;
    if (target.id === undefined) continue;
    if (!values.some((v) => (target.categories ?? []).includes(v))) return false;
  }
  return true;
}
