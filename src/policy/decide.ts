import { type AccessAction, grantIn, maskIn, type RolePolicy } from './access-policy.js';
import { type ConsentVerdict, evaluateConsents } from './consent.js';
import { DEFAULT_POLICY, type EffectivePolicy } from './effective-policy.js';
import { activeBreakGlass, type PolicyFacts } from './facts.js';
import type { MaskObligation } from './mask.js';
import { noteKindOf } from './part2.js';
import type { Principal, Role } from './principal.js';
import type { Permission, ResourceScope } from './scopes.js';
import { type Labels, labelsOf, type SecurityLabel, type SensitivityCode, sensitivityClass } from './security-labels.js';
import { SEPARATION_TEXT, separationRefusal } from './separation.js';

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
  | 'history-system'
  | 'export'
  /** `$purge`: remove a resource and its whole history (the purge role only; ADR 0018). */
  | 'purge';

/** SMART v2 permission each action needs (Bulk Data export reads). */
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
  export: 'r',
  // Destroying history needs delete permission in the scope as well as the purge role.
  purge: 'd',
};

/** The access-policy action each FHIR interaction is decided as. */
export const ACCESS_ACTION_OF: Readonly<Record<PolicyAction, AccessAction>> = {
  create: 'create',
  read: 'read',
  vread: 'read',
  'history-instance': 'read',
  update: 'update',
  patch: 'update',
  delete: 'delete',
  search: 'search',
  'history-type': 'search',
  'history-system': 'search',
  export: 'export',
  purge: 'purge',
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
  /** The resource's `meta.security` codings. Absent: labels not known, and not checked. */
  readonly security?: readonly SecurityLabel[];
  /** Who the resource names as its writer (part2.ts authorsOf); read on notes only, to let their originator use them. */
  readonly authors?: readonly string[];
}

/** Something the vault must do before a permit takes effect. */
export type Obligation =
  /** Decide again with the resource's content (its categories) before anything leaves or is written. */
  | { readonly kind: 'decide-on-content' }
  /** Show only some elements (see mask.ts). */
  | MaskObligation;

/** Marks a permit that only break-glass allowed: the audit entry is flagged and privacy officers review it. */
export interface BreakGlassMarker {
  /** Ids of the grants used (never their free-text justification, which may hold PHI). */
  readonly grants: readonly string[];
  /** Rule ids of the denials the grants overrode. */
  readonly overrides: readonly string[];
  /** The grants' reason codes (v3 PurposeOfUse), the nature of the emergency for 42 CFR §2.51. */
  readonly reasonCodes: readonly string[];
}

/** A Consent under which Part 2 (ETH) data of a patient is disclosed to this principal (§2.25, §2.32). */
export interface Part2ConsentUse {
  readonly patient: string;
  readonly consent: string;
  /** The organization the consent named the recipient through (an intermediary, §2.24). */
  readonly designation?: string;
}

export type Decision =
  | {
      readonly effect: 'permit';
      readonly reasons: readonly string[];
      readonly obligations: readonly Obligation[];
      readonly breakGlass?: BreakGlassMarker;
      /** The Consents that unlocked Part 2 data of the target for this principal. */
      readonly part2Consents?: readonly Part2ConsentUse[];
    }
  | { readonly effect: 'deny'; readonly reasons: readonly string[] };

/** One step of a decision: the policy rule and what it found. */
export interface Reason {
  readonly rule: string;
  readonly text: string;
}

export interface Evaluation {
  readonly decision: Decision;
  readonly reasons: readonly Reason[];
}

const render = (policy: EffectivePolicy, reasons: readonly Reason[]): string[] =>
  reasons.map((r) => `${policy.version}/${r.rule}: ${r.text}`);

/**
 * The policy seam: decide(principal, action, target, facts?) → permit | deny, with reasons. Pure;
 * the vault calls it before any data is touched. Deny by default (invariant 1). The order of the
 * rules and what each fact changes are in docs/adr/0009-access-policy.md.
 */
export function decide(principal: Principal, action: PolicyAction, target: PolicyTarget, facts?: PolicyFacts): Decision {
  return evaluate(principal, action, target, facts).decision;
}

export function evaluate(principal: Principal, action: PolicyAction, target: PolicyTarget, facts?: PolicyFacts): Evaluation {
  const policies = facts?.policies?.length ? facts.policies : [DEFAULT_POLICY];
  // Separation of duties, whatever the token says: the purge role acts alone or not at all.
  if (separationRefusal(principal.roles) === 'purge-and-other') {
    const reasons = [{ rule: 'separation/purge', text: SEPARATION_TEXT['purge-and-other'] }];
    return { decision: { effect: 'deny', reasons: render(policies[0] as EffectivePolicy, reasons) }, reasons };
  }
  // A member of several organizations with overrides is held to each of them: deny wins.
  let permit: Evaluation | undefined;
  for (const policy of policies) {
    const e = evaluateUnder(policy, principal, action, target, facts);
    if (e.decision.effect === 'deny') return e;
    permit = permit ? both(permit, e) : e;
  }
  return permit as Evaluation;
}

/** Two permits as one: every reason and obligation of each (two masks keep what both keep). */
function both(a: Evaluation, b: Evaluation): Evaluation {
  if (a.decision.effect !== 'permit' || b.decision.effect !== 'permit') return a;
  const grants = [...(a.decision.breakGlass?.grants ?? []), ...(b.decision.breakGlass?.grants ?? [])];
  const overrides = [...(a.decision.breakGlass?.overrides ?? []), ...(b.decision.breakGlass?.overrides ?? [])];
  const reasonCodes = [...(a.decision.breakGlass?.reasonCodes ?? []), ...(b.decision.breakGlass?.reasonCodes ?? [])];
  const part2Consents = [...(a.decision.part2Consents ?? []), ...(b.decision.part2Consents ?? [])];
  return {
    decision: {
      effect: 'permit',
      reasons: [...a.decision.reasons, ...b.decision.reasons],
      obligations: [...a.decision.obligations, ...b.decision.obligations],
      ...(grants.length > 0
        ? {
            breakGlass: {
              grants: [...new Set(grants)],
              overrides: [...new Set(overrides)],
              reasonCodes: [...new Set(reasonCodes)],
            },
          }
        : {}),
      ...(part2Consents.length > 0 ? { part2Consents } : {}),
    },
    reasons: [...a.reasons, ...b.reasons],
  };
}

function evaluateUnder(
  policy: EffectivePolicy,
  principal: Principal,
  action: PolicyAction,
  target: PolicyTarget,
  facts: PolicyFacts | undefined,
): Evaluation {
  const denied = (reasons: readonly Reason[]): Evaluation => ({ decision: { effect: 'deny', reasons: render(policy, reasons) }, reasons });
  const accessAction = ACCESS_ACTION_OF[action];
  const permission = PERMISSION_OF[action];
  const type = target.resourceType;
  const label = `${type ?? '*'}.${accessAction}`;

  // 1. Role: some role of the principal has a grant for the action on the type.
  const roles = principal.roles.filter((r) => grantIn(policy.roles[r], type, accessAction) !== undefined);
  if (roles.length === 0) return denied([{ rule: 'default-deny', text: `no role of the principal allows ${label}` }]);

  // 2. A patient user only ever reaches their own compartment, whatever scope the token carries.
  if (principal.kind === 'patient') {
    const own = principal.id.slice('Patient/'.length);
    if (principal.patient !== own)
      return denied([{ rule: 'compartment/patient', text: 'patient principal without its own patient context' }]);
    if (!inCompartment(target, own)) return denied([{ rule: 'compartment/patient', text: 'outside the patient compartment' }]);
  }

  // 3. Scope: an unconditional grant wins over one that still depends on the resource's content.
  const grants = principal.scopes.resourceScopes.map((s) => ({ scope: s, grant: scopeGrants(s, principal, permission, target) }));
  const chosen = grants.find((g) => g.grant === 'yes') ?? grants.find((g) => g.grant === 'on-content');
  if (!chosen) return denied([{ rule: 'scope', text: `no scope grants ${label}` }]);
  const scopeReason: Reason = { rule: 'scope', text: `scope ${chosen.scope.text}` };
  const contentObligation: Obligation[] = chosen.grant === 'on-content' ? [{ kind: 'decide-on-content' }] : [];

  // 4. Per role: relationship, proxy link, consent, labels, break-glass, masks. Prefer a permit
  // without break-glass, then one without a mask.
  const outcomes = roles.map((role) => evaluateRole(policy, role, principal, accessAction, target, facts));
  const rank = (o: RoleOutcome): number => (o.effect === 'deny' ? 9 : (o.breakGlass ? 2 : 0) + (o.mask ? 1 : 0));
  const best = [...outcomes].sort((a, b) => rank(a) - rank(b))[0] as RoleOutcome;
  if (best.effect === 'deny') return denied(best.reasons);

  const reasons = [...best.reasons.slice(0, 1), scopeReason, ...best.reasons.slice(1)];
  const obligations: Obligation[] = [...contentObligation, ...(best.mask ? [best.mask] : [])];
  return {
    decision: {
      effect: 'permit',
      reasons: render(policy, reasons),
      obligations,
      ...(best.breakGlass ? { breakGlass: best.breakGlass } : {}),
      ...(best.part2Consents?.length ? { part2Consents: best.part2Consents } : {}),
    },
    reasons,
  };
}

type RoleOutcome =
  | {
      readonly effect: 'permit';
      readonly reasons: readonly Reason[];
      readonly mask?: MaskObligation;
      readonly breakGlass?: BreakGlassMarker;
      readonly part2Consents?: readonly Part2ConsentUse[];
    }
  | { readonly effect: 'deny'; readonly reasons: readonly Reason[] };

/** A denial break-glass may lift (relationship, label, consent) or not (anything else). */
interface Refusal extends Reason {
  readonly overridable: boolean;
}

function evaluateRole(
  effective: EffectivePolicy,
  role: Role,
  principal: Principal,
  action: AccessAction,
  target: PolicyTarget,
  facts: PolicyFacts | undefined,
): RoleOutcome {
  const policy = effective.roles[role];
  const grant = grantIn(policy, target.resourceType, action);
  const reasons: Reason[] = [{ rule: grant?.id ?? 'grant', text: `role ${role} allows ${target.resourceType ?? '*'}.${action}` }];
  const refusals: Refusal[] = [];
  // Instance rules need the instance: a type-level query is decided again per resource.
  const patients = target.id === undefined ? [] : compartmentOf(target);
  const labels: Labels | undefined = target.id !== undefined && target.security !== undefined ? labelsOf(target.security) : undefined;
  const clinicalUser = policy.clinical && principal.kind === 'user';

  // Relationship: a clinical user reaches compartment data only through a relationship to each patient.
  if (clinicalUser && patients.length > 0 && facts?.relationships !== undefined) {
    for (const patient of patients) {
      const fact = facts.relationships.find((r) => r.patient === patient);
      if (fact)
        reasons.push({
          rule: `relationship/${fact.kind}`,
          text: `${fact.kind} relationship${fact.source ? ` through ${fact.source}` : ''}`,
        });
      else
        refusals.push({
          rule: 'relationship/required',
          text: 'no care-team, encounter or unit relationship to the patient',
          overridable: true,
        });
    }
  }

  // Consent: the patient's privacy Consents, deny winning; a permit naming this actor may unlock labels.
  const verdicts: ConsentVerdict[] = [];
  const verdictPatients: string[] = [];
  if (patients.length > 0 && facts?.consents !== undefined && (principal.kind === 'user' || principal.kind === 'system')) {
    for (const patient of patients) {
      const verdict = evaluateConsents(facts.consents, {
        patient,
        actor: principal.id,
        organizations: facts.memberOf ?? [],
        action,
        ...(target.resourceType !== undefined ? { resourceType: target.resourceType } : {}),
        ...(target.resourceType !== undefined && target.id !== undefined ? { resource: `${target.resourceType}/${target.id}` } : {}),
        labels: labels ?? { confidentiality: 'N', sensitivity: [] },
        purposeOfUse: principal.purposeOfUse,
        now: facts.now,
      });
      verdicts.push(verdict);
      verdictPatients.push(patient);
      const consentReasons = verdict.reasons.map((r) => ({ rule: r.slice(0, r.lastIndexOf(':')), text: r.slice(r.lastIndexOf(':') + 2) }));
      if (verdict.effect === 'deny')
        refusals.push(...consentReasons.map((r) => ({ ...r, text: `${r.text} (patient consent)`, overridable: true })));
      else reasons.push(...consentReasons);
    }
  }

  // Proxy: only patients linked by an active RelatedPerson and whose consent names the proxy.
  if (role === 'proxy' && patients.length > 0 && facts?.proxyFor !== undefined) {
    for (const patient of patients) {
      if (!facts.proxyFor.includes(patient))
        refusals.push({ rule: 'proxy/link', text: 'no RelatedPerson link to the patient', overridable: false });
    }
    const consented =
      facts.consents !== undefined && verdicts.length === patients.length && verdicts.every((v) => v.effect === 'permit' && v.namesActor);
    if (consented) reasons.push({ rule: 'proxy/consent', text: 'the patient consent names the proxy' });
    else refusals.push({ rule: 'proxy/consent', text: 'no patient consent names the proxy', overridable: false });
  }

  // Labels: each restricted class needs the role's grant, or a consent permit naming this actor and the class.
  const part2Consents: Part2ConsentUse[] = [];
  if (labels) {
    const classes = [...new Set(labels.sensitivity.map(sensitivityClass))];
    // A note (PSYTHPN; with ETH an SUD counseling note) is unlocked, as a whole, only by a consent for notes alone.
    const note = noteKindOf(labels);
    const originator = note !== undefined && principal.kind === 'user' && (target.authors ?? []).includes(principal.id);
    const byNotesConsent = note !== undefined && verdicts.length > 0 && verdicts.every((v) => v.notesConsents.length > 0);
    for (const c of classes) {
      if (originator) reasons.push({ rule: `label/${c}`, text: `${c} of a ${note} this principal wrote (its originator)` });
      else if (byNotesConsent) reasons.push({ rule: `label/${c}`, text: `${c} of a ${note} unlocked by a separate consent for notes` });
      // Psychotherapy notes need their own authorization (164.508(a)(2), (b)(3)(ii)), SUD counseling notes their own consent
      // (42 CFR §2.31(b)): no role, no combined consent and no emergency lifts that.
      else if (c === 'PSYTHPN')
        refusals.push({
          rule: note === 'sud-counseling-note' ? 'label/sud-counseling-note' : 'label/PSYTHPN',
          text: `a ${note} needs a separate consent for notes only`,
          overridable: false,
        });
      else if (roleSees(policy, c)) reasons.push({ rule: `label/${c}`, text: `role ${role} may see ${c}` });
      else if (verdicts.length > 0 && verdicts.every((v) => v.unlocks.includes(c)))
        reasons.push({ rule: `label/${c}`, text: `${c} unlocked by patient consent` });
      else refusals.push({ rule: `label/${c}`, text: `role ${role} may not see ${c}`, overridable: true });
    }
    if (labels.confidentiality === 'V' && policy.sensitive !== '*' && !byNotesConsent && !originator)
      refusals.push({ rule: 'label/V', text: `role ${role} may not see very restricted data`, overridable: true });
    // Which Consents disclose Part 2 data here, when a consent (not the role) is what lets it out.
    if (classes.includes('ETH') && !originator && (byNotesConsent || !roleSees(policy, 'ETH')))
      verdicts.forEach((v, i) => {
        const patient = verdictPatients[i] as string;
        const uses = byNotesConsent
          ? v.notesConsents.map((consent) => ({ consent }))
          : v.unlockedBy
              .filter((u) => u.label === 'ETH')
              .map(({ consent, designation }) => ({ consent, ...(designation ? { designation } : {}) }));
        for (const u of uses) part2Consents.push({ patient, ...u });
      });
  }

  if (refusals.length > 0) {
    const liftable = refusals.every((r) => r.overridable) && clinicalUser && patients.length > 0;
    // An organization that disabled break-glass (issue 6 §5) lifts nothing, even with a grant in force.
    if (liftable && !effective.breakGlass)
      return { effect: 'deny', reasons: [...refusals, { rule: 'break-glass/disabled', text: 'the organization disabled break-glass' }] };
    const grants = liftable ? patients.map((p) => activeBreakGlass(facts, principal.id, p)) : [];
    if (!liftable || grants.some((g) => g === undefined)) return { effect: 'deny', reasons: refusals };
    const ids = grants.map((g) => g?.id as string);
    reasons.push(...refusals.map((r) => ({ rule: 'break-glass', text: `grant ${ids.join(', ')} overrides ${r.rule}` })));
    return {
      effect: 'permit',
      reasons,
      breakGlass: {
        grants: ids,
        overrides: refusals.map((r) => r.rule),
        // The loader gives the grant's v3 code as its reason; anything else may be free text and stays out.
        reasonCodes: [...new Set(grants.map((g) => g?.reason as string))].filter((r) => /^[A-Z]{2,12}$/.test(r)),
      },
      ...(part2Consents.length ? { part2Consents } : {}),
      ...maskOf(policy, role, target, action, reasons),
    };
  }
  return {
    effect: 'permit',
    reasons,
    ...(part2Consents.length ? { part2Consents } : {}),
    ...maskOf(policy, role, target, action, reasons),
  };
}

function maskOf(policy: RolePolicy, role: Role, target: PolicyTarget, action: AccessAction, reasons: Reason[]): { mask?: MaskObligation } {
  const rule = action === 'read' || action === 'search' || action === 'export' ? maskIn(policy, target.resourceType) : undefined;
  if (!rule) return {};
  reasons.push({ rule: rule.id, text: `role ${role} sees only part of ${target.resourceType}` });
  return { mask: { kind: 'mask', rule: rule.id, keep: rule.keep } };
}

function roleSees(policy: RolePolicy, c: SensitivityCode): boolean {
  return policy.sensitive === '*' ? c !== 'PSYTHPN' : policy.sensitive.includes(c);
}

/** The patients whose compartment holds the target (a Patient is in its own). */
function compartmentOf(target: PolicyTarget): string[] {
  const patients = new Set(target.patients ?? []);
  if (target.resourceType === 'Patient' && target.id !== undefined) patients.add(target.id);
  return [...patients];
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

/**
 * Directory resources: the people, places, organizations and products a record names, which lie
 * in no patient's compartment and hold no one's health information. A patient reads them (read
 * and search only — actions are still the grant's) so that their record and their apps can show
 * who treated them and where (US Core asks patient apps to resolve these references); a resource
 * of these types that does belong to some patient's compartment gets no such pass.
 */
export const DIRECTORY_TYPES: ReadonlySet<string> = new Set([
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'HealthcareService',
  'Endpoint',
  'Medication',
]);

/** Type-level targets pass here; each returned resource is checked with its compartment. */
function inCompartment(target: PolicyTarget, patientId: string): boolean {
  if (target.id === undefined) return true;
  if (target.resourceType === 'Patient' && target.id === patientId) return true;
  const patients = target.patients ?? [];
  if (patients.length === 0 && target.resourceType !== undefined && DIRECTORY_TYPES.has(target.resourceType)) return true;
  return patients.includes(patientId);
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
