import { isResourceType, WardError } from '../fhir/index.js';
import { isRole, kindOfSubject, type PolicyAction, type Principal, parseScopes, type Role } from '../policy/index.js';

const SUBJECT = /^(system|[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/;
const ORGANIZATION = /^Organization\/[A-Za-z0-9\-.]{1,64}$/;
const TARGET = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const PURPOSE = /^[A-Z][A-Z0-9]{1,31}$/;
const ACTIONS: readonly PolicyAction[] = ['read', 'vread', 'search', 'history-instance', 'create', 'update', 'patch', 'delete', 'export'];

export const EXPLAIN_PARAMETERS = ['principal', 'role', 'action', 'target', 'organization', 'purposeOfUse'] as const;

export interface ExplainRequest {
  readonly subject: Principal;
  readonly action: PolicyAction;
  readonly resourceType: string;
  readonly id: string;
}

/** A refusal that names the parameter, never its value (error bodies carry no input, invariant 5). */
const invalid = (name: string, what: string) =>
  new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${name} ${what}` }] });

/**
 * `principal=Practitioner/1&role=physician&action=read&target=Observation/2[&organization=…][&purposeOfUse=…]`.
 * The explanation is about the policy, not about a token: the principal is given every SMART
 * permission of its context (user, patient or system), so the reasons show roles, relationships,
 * consents and labels; a token's narrower scopes are explained by the token, not here.
 */
export function parseExplainRequest(query: URLSearchParams): ExplainRequest {
  const principal = query.get('principal');
  if (principal === null || !SUBJECT.test(principal)) throw invalid('principal', 'must be system or a reference such as Practitioner/123');
  const roles = query.getAll('role').flatMap((r) => r.split(','));
  if (roles.length === 0 || !roles.every(isRole)) throw invalid('role', 'must name one or more Ward roles');
  const action = query.get('action');
  if (action === null || !(ACTIONS as readonly string[]).includes(action)) throw invalid('action', `must be one of ${ACTIONS.join(', ')}`);
  const target = TARGET.exec(query.get('target') ?? '');
  if (!target || !isResourceType(target[1] as string)) throw invalid('target', 'must be a reference such as Observation/123');
  const organizations = query.getAll('organization');
  if (!organizations.every((o) => ORGANIZATION.test(o))) throw invalid('organization', 'must be Organization/<id>');
  const purpose = query.get('purposeOfUse');
  if (purpose !== null && !PURPOSE.test(purpose)) throw invalid('purposeOfUse', 'must be an HL7 v3 PurposeOfUse code');
  const kind = kindOfSubject(principal);
  const context = kind === 'system' ? 'system' : kind === 'patient' ? 'patient' : 'user';
  const subject: Principal = {
    id: principal,
    kind,
    roles: roles as Role[],
    scopes: parseScopes(`${context}/*.cruds`),
    ...(kind === 'patient' ? { patient: principal.slice('Patient/'.length) } : {}),
    purposeOfUse: purpose ?? 'TREAT',
    ...(organizations.length > 0 ? { organizations } : {}),
  };
  return { subject, action: action as PolicyAction, resourceType: target[1] as string, id: target[2] as string };
}
