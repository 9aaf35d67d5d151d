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
  /**
   * Category tokens of the resource (`system|code` and `code`), for granular scopes. Absent means
   * "not known yet": a permit that depends on them then carries a decide-on-content obligation.
   */
  readonly categories?: readonly string[];
}

/** Something the vault must do before a permit takes effect. */
export type Obligation = {
  /** Decide again with the resource's content (its categories) before anything leaves or is written. */
  readonly kind: 'decide-on-content';
};

export type Decision =
  | { readonly effect: 'permit'; readonly reasons: readonly string[]; readonly obligations: readonly Obligation[] }
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

  // An unconditional grant wins over one that still depends on the resource's content.
  const grants = principal.scopes.resourceScopes.map((s) => ({ scope: s, grant: scopeGrants(s, principal, permission, target) }));
  const chosen = grants.find((g) => g.grant === 'yes') ?? grants.find((g) => g.grant === 'on-content');
  if (!chosen) return deny(`no scope grants ${label}`);

  return {
    effect: 'permit',
    reasons: [`${POLICY_VERSION}: role ${role} allows ${label}`, `scope ${chosen.scope.text}`],
    obligations: chosen.grant === 'on-content' ? [{ kind: 'decide-on-content' }] : [],
  };
}

type Grant = 'yes' | 'no' | 'on-content';

function scopeGrants(scope: ResourceScope, principal: Principal, permission: Permission, target: PolicyTarget): Grant {
  if (!scope.permissions.has(permission)) return 'no';
  if (scope.resourceType !== '*' && scope.resourceType !== target.resourceType) return 'no';
  switch (scope.context) {
    case 'system':
      if (principal.kind !== 'system') return 'no';
      break;
    case 'user':
      if (principal.kind !== 'user' && principal.kind !== 'patient') return 'no';
      break;
    case 'patient':
      if (!principal.patient || !inCompartment(target, principal.patient)) return 'no';
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
function restrictionHolds(scope: ResourceScope, target: PolicyTarget): Grant {
  if (!scope.restriction) return 'yes';
  let grant: Grant = 'yes';
  for (const [name, values] of scope.restriction) {
    if (name !== 'category') return 'no';
    if (target.id === undefined) continue;
    if (target.categories === undefined) {
      grant = 'on-content';
      continue;
    }
    if (!values.some((v) => target.categories?.includes(v))) return 'no';
  }
  return grant;
}
