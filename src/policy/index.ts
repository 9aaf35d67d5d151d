export { type Decision, decide, type Obligation, PERMISSION_OF, type PolicyAction, type PolicyTarget } from './decide.js';
export { isRole, kindOfSubject, type Principal, type PrincipalKind, ROLES, type Role } from './principal.js';
export { POLICY_VERSION, ROLE_GRANTS, roleAllows } from './role-allow-list.js';
export { type Permission, parseScopes, type ResourceScope, type ScopeContext, type ScopeSet, ScopeSyntaxError } from './scopes.js';
export { ADMINISTRATIVE_ROLES, CLINICAL_ROLES, SEPARATION_TEXT, type SeparationRefusal, separationRefusal } from './separation.js';
