import { isResourceType } from '../fhir/index.js';
import {
  ACCESS_ACTIONS,
  ACCESS_POLICY,
  CLINICIAN_LABELS,
  type DataAction,
  DEMOGRAPHICS,
  DIRECTORY,
  FINANCIAL,
  NAMED_ONLY,
} from './access-policy.js';
import { isRole, type Role } from './principal.js';
import { isSensitivityCode, type SensitivityCode, sensitivityClass } from './security-labels.js';

/**
 * An organization's override of the default access policy (issue 6 §1), as the system
 * administrator writes it. It narrows freely and widens only inside hard limits; what it may not
 * say has no key at all, so an unknown key is refused rather than ignored (an ignored key could be
 * a restriction the administrator believes is in force). The limits are in ADR 0015.
 */
export interface OrganizationOverride {
  /** `disabled`: this organization's users cannot request break-glass, and existing grants lift nothing. */
  readonly breakGlass?: 'enabled' | 'disabled';
  readonly roles?: Partial<Readonly<Record<Role, RoleOverride>>>;
}

export interface AccessRuleInput {
  /** `*` only when taking away; a widening names its types. */
  readonly types: '*' | readonly string[];
  readonly actions: readonly DataAction[];
}

export interface RoleOverride {
  /** Taken away from the role's grants (always allowed). */
  readonly withhold?: readonly AccessRuleInput[];
  /** Added to the role's grants, within the role's ceiling. */
  readonly grant?: readonly AccessRuleInput[];
  /** Per type, the only top-level elements the role sees; an existing mask can only keep less. */
  readonly masks?: Readonly<Record<string, readonly string[]>>;
  /** Sensitivity classes the role no longer sees. */
  readonly hideLabels?: readonly SensitivityCode[];
  /** Sensitivity classes a clinical role also sees; never Part 2 (ETH/SUD) or psychotherapy notes. */
  readonly showLabels?: readonly SensitivityCode[];
}

/** One refusal: where in the document, and which hard limit (rule id) it breaks. No value is echoed. */
export interface OverrideIssue {
  readonly path: string;
  readonly rule: string;
  readonly text: string;
}

export type OverrideCheck =
  | { readonly ok: true; readonly override: OrganizationOverride }
  | { readonly ok: false; readonly issues: OverrideIssue[] };

/**
 * Roles no organization may change. Oversight (privacy officer, auditor) must not be weakened by
 * the administrator it oversees; a patient's and a proxy's reach is the right of access
 * (164.524), not a local choice; `system` is a service, not an organization's member; `purge`
 * destroys history (164.312(c)(1)) and is widened or narrowed by no one.
 */
export const FIXED_ROLES: readonly Role[] = ['privacy-officer', 'auditor', 'patient', 'proxy', 'system', 'purge'];
/** Clinical roles may be widened up to what a physician may do by default. */
const CLINICAL: readonly Role[] = ['physician', 'nurse', 'medical-assistant', 'pharmacist', 'lab-technician'];
/** Administrative roles are widened only within administrative data: never a clinical resource. */
const ADMINISTRATIVE_TYPES: ReadonlySet<string> = new Set([...DEMOGRAPHICS, ...FINANCIAL, ...DIRECTORY]);
const ELEMENT = /^[a-z][A-Za-z0-9]{0,63}$/;
const MAX_RULES = 50;

/** Validates an override document against the hard limits; pure. */
export function checkOverride(input: unknown): OverrideCheck {
  const issues: OverrideIssue[] = [];
  const refuse = (path: string, rule: string, text: string) => issues.push({ path, rule, text });
  if (!isObject(input)) return { ok: false, issues: [{ path: '', rule: 'limit/shape', text: 'the override must be a JSON object' }] };
  onlyKeys(input, ['breakGlass', 'roles'], '', refuse);
  if (input.breakGlass !== undefined && input.breakGlass !== 'enabled' && input.breakGlass !== 'disabled')
    refuse('breakGlass', 'limit/shape', 'breakGlass must be enabled or disabled');
  if (input.roles !== undefined) {
    if (!isObject(input.roles)) refuse('roles', 'limit/shape', 'roles must be an object keyed by role');
    else
      for (const [role, value] of Object.entries(input.roles)) {
        if (!isRole(role)) {
          refuse('roles', 'limit/unknown-role', 'roles names a role Ward does not have');
          continue;
        }
        checkRole(role, value, `roles.${role}`, refuse);
      }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, override: input as OrganizationOverride };
}

type Refuse = (path: string, rule: string, text: string) => void;

function checkRole(role: Role, value: unknown, at: string, refuse: Refuse): void {
  if (FIXED_ROLES.includes(role)) {
    refuse(at, 'limit/fixed-role', `role ${role} is the same in every organization`);
    return;
  }
  if (!isObject(value)) {
    refuse(at, 'limit/shape', 'a role override must be an object');
    return;
  }
  onlyKeys(value, ['withhold', 'grant', 'masks', 'hideLabels', 'showLabels'], at, refuse);
  rules(value.withhold, `${at}.withhold`, true, refuse);
  const widened = rules(value.grant, `${at}.grant`, false, refuse);
  // Separation of duties (164.308(a)(3), [NPRM] 164.312(a)(2)(ii)): the administrator reads no clinical PHI, in any organization.
  if (role === 'system-admin' && widened.length > 0)
    refuse(`${at}.grant`, 'limit/separation-of-duties', 'the system administrator is never given more access');
  else if (!CLINICAL.includes(role))
    for (const [i, types] of widened.entries())
      if (types.some((t) => !ADMINISTRATIVE_TYPES.has(t)))
        refuse(
          `${at}.grant[${i}]`,
          'limit/administrative-role',
          `role ${role} is widened only to demographics, financial and directory types`,
        );
  if (value.masks !== undefined) {
    if (!isObject(value.masks)) refuse(`${at}.masks`, 'limit/shape', 'masks must map a resource type to the elements kept');
    else
      for (const [type, keep] of Object.entries(value.masks)) {
        if (!isResourceType(type)) refuse(`${at}.masks`, 'limit/unknown-type', 'masks names an unknown resource type');
        else if (!Array.isArray(keep) || keep.length > 200 || !keep.every((e) => typeof e === 'string' && ELEMENT.test(e)))
          refuse(`${at}.masks.${type}`, 'limit/shape', 'a mask is a list of top-level element names');
        // Minimum necessary (164.502(b)): a default mask is tightened, never loosened.
        else if (
          ACCESS_POLICY[role].masks[type]?.keep.length !== undefined &&
          keep.some((e) => !ACCESS_POLICY[role].masks[type]?.keep.includes(e))
        )
          refuse(
            `${at}.masks.${type}`,
            'limit/mask-only-tightens',
            `role ${role} already sees ${type} masked; an override keeps less, not more`,
          );
      }
  }
  labels(value.hideLabels, `${at}.hideLabels`, refuse);
  const shown = labels(value.showLabels, `${at}.showLabels`, refuse);
  for (const code of shown) {
    // 42 CFR Part 2 §2.12–2.13: SUD records need the patient's consent (or an emergency), never a local setting.
    if (sensitivityClass(code) === 'ETH') refuse(`${at}.showLabels`, 'limit/part-2', 'Part 2 (ETH/SUD) data is never shown by an override');
    // 164.508(a)(2): psychotherapy notes need the patient's authorization.
    else if (code === 'PSYTHPN')
      refuse(`${at}.showLabels`, 'limit/psychotherapy-notes', 'psychotherapy notes are never shown by an override');
    else if (!CLINICAL.includes(role))
      refuse(`${at}.showLabels`, 'limit/labels-clinical-only', `role ${role} is not clinical and is shown no sensitive data`);
    else if (!CLINICIAN_LABELS.includes(code))
      refuse(`${at}.showLabels`, 'limit/labels-ceiling', 'a clinical role is shown no more than a physician sees by default');
  }
}

/** Checks a list of rules; returns the type lists (for the ceiling checks of a widening). */
function rules(value: unknown, at: string, mayUseStar: boolean, refuse: Refuse): (readonly string[])[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_RULES) {
    refuse(at, 'limit/shape', `a list of at most ${MAX_RULES} rules is expected`);
    return [];
  }
  const out: (readonly string[])[] = [];
  for (const [i, rule] of value.entries()) {
    const path = `${at}[${i}]`;
    if (!isObject(rule)) {
      refuse(path, 'limit/shape', 'a rule is an object with types and actions');
      continue;
    }
    onlyKeys(rule, ['types', 'actions'], path, refuse);
    const { types, actions } = rule;
    if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => ACCESS_ACTIONS.includes(a as DataAction)))
      refuse(`${path}.actions`, 'limit/shape', `actions are some of ${ACCESS_ACTIONS.join(', ')}`);
    if (types === '*') {
      if (!mayUseStar) refuse(`${path}.types`, 'limit/explicit-types', 'a widening names its resource types');
      continue;
    }
    if (
      !Array.isArray(types) ||
      types.length === 0 ||
      types.length > 200 ||
      !types.every((t) => typeof t === 'string' && isResourceType(t))
    ) {
      refuse(`${path}.types`, 'limit/unknown-type', 'types are known resource types');
      continue;
    }
    // The audit log is reached by its own roles only (170.315(d)(2)); no override reaches it.
    if (!mayUseStar && types.some((t) => NAMED_ONLY.has(t)))
      refuse(`${path}.types`, 'limit/audit-log', 'the audit log is reached by the privacy officer and the auditor only');
    out.push(types as string[]);
  }
  return out;
}

function labels(value: unknown, at: string, refuse: Refuse): SensitivityCode[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((c) => typeof c === 'string' && isSensitivityCode(c))) {
    refuse(at, 'limit/shape', 'a list of HL7 v3 sensitivity codes Ward knows is expected');
    return [];
  }
  return value as SensitivityCode[];
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], at: string, refuse: Refuse): void {
  if (Object.keys(value).some((k) => !allowed.includes(k)))
    refuse(at, 'limit/unknown-key', `only ${allowed.join(', ')} may be set here; nothing else can be overridden`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
