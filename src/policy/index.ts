export {
  ACCESS_ACTIONS,
  ACCESS_POLICY,
  type AccessAction,
  CLINICIAN_LABELS,
  checkPolicy,
  type DataAction,
  type MaskRule,
  POLICY_VERSION,
  PURGE_ROLE,
  type RolePolicy,
  type TypeGrant,
} from './access-policy.js';
export { type ConfigurationAction, configurationDecision } from './configuration-access.js';
export { type ConsentRequest, type ConsentUnlock, type ConsentVerdict, evaluateConsents } from './consent.js';
export {
  ACCESS_ACTION_OF,
  type BreakGlassMarker,
  type Decision,
  decide,
  type Evaluation,
  evaluate,
  type Obligation,
  type Part2ConsentUse,
  PERMISSION_OF,
  type PolicyAction,
  type PolicyTarget,
  type Reason,
} from './decide.js';
export { DEFAULT_POLICY, type EffectivePolicy, effectivePolicy, type StoredOverride, validateOverride } from './effective-policy.js';
export { type Explanation, explain } from './explain.js';
export { activeBreakGlass, type BreakGlassGrant, type PolicyFacts, type RelationshipFact, type RelationshipKind } from './facts.js';
export { LABEL_RULES, type LabelRule } from './label-rules.js';
export { type LabelAssignment, labelsFor, withLabels } from './labels-for.js';
export { type MaskObligation, mask } from './mask.js';
export {
  FIXED_ROLES,
  type OrganizationOverride,
  type OverrideIssue,
  type RoleOverride,
} from './organization-override.js';
export {
  authorsOf,
  isNotesOnlyConsent,
  isPart2,
  NO_REDISCLOSURE_CODE,
  NOTES_CODE,
  type NoteKind,
  noteKindOf,
  REDISCLOSURE_NOTICE,
} from './part2.js';
export { isRole, kindOfSubject, type Principal, type PrincipalKind, ROLES, type Role } from './principal.js';
export { ACTION_OF_PERMISSION, roleAllows } from './role-allow-list.js';
export { type Permission, parseScopes, type ResourceScope, type ScopeContext, type ScopeSet, ScopeSyntaxError } from './scopes.js';
export {
  ACT_CODE_SYSTEM,
  CONFIDENTIALITY_SYSTEM,
  type Confidentiality,
  type Labels,
  labelsOf,
  OBSERVATION_VALUE_SYSTEM,
  SENSITIVITY_CODES,
  type SecurityLabel,
  type SensitivityCode,
  securityCodings,
} from './security-labels.js';
export {
  ADMINISTRATIVE_ROLES,
  CLINICAL_ROLES,
  SEPARATION_TEXT,
  type SeparationRefusal,
  SOLITARY_ROLES,
  separationRefusal,
} from './separation.js';
export { checkStepUp, DEFAULT_STEP_UP_SECONDS, MAX_STEP_UP_SECONDS, type StepUpCheck } from './step-up.js';
