import { ACCESS_POLICY, checkPolicy, POLICY_VERSION, type RolePolicy, type TypeGrant } from './access-policy.js';
import { checkOverride, type OrganizationOverride, type OverrideIssue, type RoleOverride } from './organization-override.js';
import type { Role } from './principal.js';
import { sensitivityClass } from './security-labels.js';

/**
 * The policy a decision is made under: the default (`ward-policy-4`), or the default with one
 * organization's override applied. Its version names both, and every reason a decision gives
 * starts with it, so an audit entry says which override (and which version of it) decided.
 */
export interface EffectivePolicy {
  /** `ward-policy-4`, or `ward-policy-4+Organization/<id>@v<n>`. */
  readonly version: string;
  readonly roles: Readonly<Record<Role, RolePolicy>>;
  /** False when the organization disabled break-glass: grants then lift nothing. */
  readonly breakGlass: boolean;
  readonly override?: { readonly organization: string; readonly version: number };
}

export const DEFAULT_POLICY: EffectivePolicy = { version: POLICY_VERSION, roles: ACCESS_POLICY, breakGlass: true };

/** A stored override: whose, which version. */
export interface StoredOverride {
  readonly organization: string;
  readonly version: number;
  readonly document: unknown;
}

/**
 * The default policy with an override applied; pure. A stored document that no longer passes the
 * hard limits (written around Ward, or under older limits) yields a policy that grants nothing:
 * a broken override fails closed, and its version says so.
 */
export function effectivePolicy(stored: StoredOverride): EffectivePolicy {
  const label = `${POLICY_VERSION}+${stored.organization}@v${stored.version}`;
  const override = { organization: stored.organization, version: stored.version };
  const checked = validateOverride(stored.document, label);
  if (!checked.ok) return { version: `${label}!invalid`, roles: nothingGranted(), breakGlass: false, override };
  return { version: label, roles: checked.roles, breakGlass: checked.override.breakGlass !== 'disabled', override };
}

/** The hard limits, then the policy's own invariants on the result (a masked type stays read-only). */
export function validateOverride(
  input: unknown,
  label = 'override',
): { ok: true; override: OrganizationOverride; roles: Record<Role, RolePolicy> } | { ok: false; issues: OverrideIssue[] } {
  const checked = checkOverride(input);
  if (!checked.ok) return checked;
  const roles = applyOverride(checked.override, label);
  try {
    checkPolicy(roles);
  } catch {
    return {
      ok: false,
      issues: [
        {
          path: 'roles',
          rule: 'limit/masked-read-only',
          text: 'a masked type must not be writable by that role; withhold create, update and delete',
        },
      ],
    };
  }
  return { ok: true, override: checked.override, roles };
}

function applyOverride(override: OrganizationOverride, label: string): Record<Role, RolePolicy> {
  const roles = { ...ACCESS_POLICY } as Record<Role, RolePolicy>;
  for (const [role, change] of Object.entries(override.roles ?? {}) as [Role, RoleOverride][]) {
    roles[role] = applyToRole(roles[role], change, `override/${label}/${role}`);
  }
  return roles;
}

function applyToRole(base: RolePolicy, change: RoleOverride, prefix: string): RolePolicy {
  const rule = (kind: string) => (r: { types: '*' | readonly string[]; actions: readonly TypeGrant['actions'][number][] }, i: number) => ({
    id: `${prefix}/${kind}[${i}]`,
    types: r.types,
    actions: r.actions,
  });
  const withheld = [...(base.withheld ?? []), ...(change.withhold ?? []).map(rule('withhold'))];
  const masks = { ...base.masks };
  for (const [type, keep] of Object.entries(change.masks ?? {})) masks[type] = { id: `${prefix}/mask/${type}`, keep };
  const hidden = new Set((change.hideLabels ?? []).map(sensitivityClass));
  const sensitive =
    base.sensitive === '*'
      ? base.sensitive
      : [...new Set([...base.sensitive, ...(change.showLabels ?? [])])].filter((c) => !hidden.has(sensitivityClass(c)));
  return {
    grants: [...base.grants, ...(change.grant ?? []).map(rule('grant'))],
    ...(withheld.length > 0 ? { withheld } : {}),
    masks,
    sensitive,
    clinical: base.clinical,
  };
}

function nothingGranted(): Record<Role, RolePolicy> {
  const roles = {} as Record<Role, RolePolicy>;
  for (const [role, p] of Object.entries(ACCESS_POLICY) as [Role, RolePolicy][]) roles[role] = { ...p, grants: [] };
  return roles;
}
