import type { AuditAction, AuditEntry, PrincipalKind } from './audit-entry.js';
import { PURPOSE_OF_USE_SYSTEM, purposeOfUseDisplay } from './purpose-of-use.js';

/**
 * The read-only FHIR R4 `AuditEvent` view of one stored entry (170.315(d)(3)): pure, so the log is
 * never re-written to serve it. The id is the entry's sequence number. Codes come from the
 * vocabularies R4 binds (audit-event-type, restful-interaction, DICOM DCM, object-role,
 * audit-entity-type, network-type, v3 PurposeOfUse); Ward's own codes (roles, actions without a
 * standard code) use Ward's code systems.
 */
export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface AuditEventResource {
  readonly resourceType: 'AuditEvent';
  readonly id: string;
  readonly [element: string]: unknown;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const RESOURCE_TYPES = 'http://hl7.org/fhir/resource-types';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const LIFECYCLE = 'http://terminology.hl7.org/CodeSystem/dicom-audit-lifecycle';
const SECURITY_ROLE = 'http://terminology.hl7.org/CodeSystem/extra-security-role-type';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

export const WARD_ACTION_SYSTEM = 'https://ward.health/fhir/CodeSystem/audit-action';
export const WARD_ROLE_SYSTEM = 'https://ward.health/fhir/CodeSystem/role';
export const WARD_PRINCIPAL_SYSTEM = 'https://ward.health/fhir/NamingSystem/principal';
export const WARD_CLIENT_SYSTEM = 'https://ward.health/fhir/NamingSystem/client';
/** Ids that no stored row confirmed are recorded as keyed hashes, not references. */
const WARD_HASHED_ID_SYSTEM = 'https://ward.health/fhir/NamingSystem/audit-id-hash';

type ActionCode = 'C' | 'R' | 'U' | 'D' | 'E';

interface ActionView {
  readonly type: Coding;
  /** A restful-interaction code, or undefined for Ward's own code (the action itself). */
  readonly interaction?: string;
  readonly code: ActionCode;
}

const REST: Coding = { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' };
const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });

/** How each Ward action appears as AuditEvent type, subtype and action (R4 AuditEvent §6.4.4.3 for REST). */
const ACTIONS: Readonly<Record<AuditAction, ActionView>> = {
  create: { type: REST, interaction: 'create', code: 'C' },
  read: { type: REST, interaction: 'read', code: 'R' },
  vread: { type: REST, interaction: 'vread', code: 'R' },
  update: { type: REST, interaction: 'update', code: 'U' },
  patch: { type: REST, interaction: 'patch', code: 'U' },
  delete: { type: REST, interaction: 'delete', code: 'D' },
  purge: { type: REST, interaction: 'operation', code: 'D' },
  search: { type: REST, interaction: 'search-type', code: 'E' },
  history: { type: REST, interaction: 'history', code: 'R' },
  request: { type: REST, code: 'E' },
  'token-create': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'key-create': { type: dcm('110113', 'Security Alert'), code: 'C' },
  migrate: { type: dcm('110100', 'Application Activity'), code: 'E' },
  disclose: { type: dcm('110106', 'Export'), code: 'R' },
  'audit-export': { type: dcm('110101', 'Audit Log Used'), code: 'R' },
  'audit-report': { type: dcm('110101', 'Audit Log Used'), code: 'R' },
  'audit-verify': { type: dcm('110101', 'Audit Log Used'), code: 'R' },
  'audit-prove': { type: dcm('110101', 'Audit Log Used'), code: 'R' },
  'audit-archive': { type: dcm('110106', 'Export'), code: 'D' },
  'audit-partitions': { type: dcm('110100', 'Application Activity'), code: 'C' },
  'audit-review': { type: dcm('110101', 'Audit Log Used'), code: 'C' },
  'audit-configure': { type: dcm('110100', 'Application Activity'), code: 'U' },
  login: { type: dcm('110114', 'User Authentication'), code: 'E' },
  'login-failed': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'account-locked': { type: dcm('110113', 'Security Alert'), code: 'E' },
  'user-create': { type: dcm('110137', 'User Security Attributes Changed'), code: 'C' },
  'user-deactivate': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'account-unlock': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  enroll: { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'client-create': { type: dcm('110137', 'User Security Attributes Changed'), code: 'C' },
  'client-suspend': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'client-approve': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'token-grant': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'token-denied': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'token-introspect': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'token-revoke': { type: dcm('110114', 'User Authentication'), code: 'E' },
  transaction: { type: REST, interaction: 'transaction', code: 'E' },
  batch: { type: REST, interaction: 'batch', code: 'E' },
  import: { type: dcm('110107', 'Import'), code: 'C' },
  reindex: { type: dcm('110100', 'Application Activity'), code: 'E' },
  'mfa-challenge': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'mfa-enroll': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'mfa-failed': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'recovery-code-used': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'step-up': { type: dcm('110114', 'User Authentication'), code: 'E' },
  logout: { type: dcm('110114', 'User Authentication'), code: 'E' },
  'session-revoke': { type: dcm('110114', 'User Authentication'), code: 'E' },
  'role-grant': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'role-revoke': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'password-change': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'password-compromised': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'compliance-report': { type: dcm('110100', 'Application Activity'), code: 'R' },
  'user-reactivate': { type: dcm('110137', 'User Security Attributes Changed'), code: 'U' },
  'account-list': { type: dcm('110100', 'Application Activity'), code: 'R' },
  'client-list': { type: dcm('110100', 'Application Activity'), code: 'R' },
  authorize: { type: dcm('110114', 'User Authentication'), code: 'E' },
  'oauth-request': { type: dcm('110114', 'User Authentication'), code: 'E' },
  consent: { type: dcm('110137', 'User Security Attributes Changed'), code: 'C' },
  'launch-create': { type: dcm('110114', 'User Authentication'), code: 'C' },
  'app-list': { type: dcm('110137', 'User Security Attributes Changed'), code: 'R' },
  'app-revoke': { type: dcm('110137', 'User Security Attributes Changed'), code: 'D' },
  'policy-explain': { type: dcm('110100', 'Application Activity'), code: 'E' },
  'break-glass': { type: dcm('110113', 'Security Alert'), code: 'E' },
  'break-glass-review': { type: dcm('110113', 'Security Alert'), code: 'U' },
  'policy-override': { type: dcm('110100', 'Application Activity'), code: 'U' },
  'policy-override-read': { type: dcm('110100', 'Application Activity'), code: 'R' },
};

/** The AuditEvent action code (C, R, U, D, E) of a Ward action. */
export function actionCodeOf(action: AuditAction): ActionCode {
  return ACTIONS[action].code;
}

/** AuditEvent.outcome: 0 success, 4 minor failure (refused or invalid request), 8 serious failure (server side). */
export function outcomeCodeOf(status: number): '0' | '4' | '8' {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

export function auditEventOf(seq: number, entry: AuditEntry): AuditEventResource {
  const view = ACTIONS[entry.action] ?? ACTIONS.request;
  const disclosure = entry.action === 'disclose' ? entry.detail : undefined;
  const disclosedAt = disclosure?.disclosedAt;
  return {
    resourceType: 'AuditEvent',
    id: String(seq),
    meta: { versionId: '1', lastUpdated: entry.time },
    type: view.type,
    subtype: [subtypeOf(entry, view)],
    action: view.code,
    ...(disclosedAt ? { period: { start: disclosedAt, end: disclosedAt } } : {}),
    recorded: entry.time,
    outcome: outcomeCodeOf(entry.outcome.status),
    outcomeDesc: entry.outcome.code ? `${entry.outcome.status} ${entry.outcome.code}` : String(entry.outcome.status),
    ...(entry.purposeOfUse && entry.purposeOfUse !== 'none' ? { purposeOfEvent: [purposeConcept(entry.purposeOfUse)] } : {}),
    agent: agentsOf(entry),
    source: {
      ...(entry.where.listener ? { site: entry.where.listener } : {}),
      observer: { display: 'Ward' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    entity: entitiesOf(entry),
  };
}

function subtypeOf(entry: AuditEntry, view: ActionView): Coding {
  if (view.interaction === 'history') {
    const level = entry.resourceId ? 'history-instance' : entry.resourceType ? 'history-type' : 'history-system';
    return { system: RESTFUL, code: level, display: level };
  }
  if (view.interaction) return { system: RESTFUL, code: view.interaction, display: view.interaction };
  return { system: WARD_ACTION_SYSTEM, code: entry.action, display: entry.action };
}

function purposeConcept(code: string): { coding: Coding[] } {
  const display = purposeOfUseDisplay(code);
  return { coding: [{ system: PURPOSE_OF_USE_SYSTEM, code, ...(display ? { display } : {}) }] };
}

const AGENT_TYPE: Readonly<Record<PrincipalKind, Coding | undefined>> = {
  user: { system: SECURITY_ROLE, code: 'humanuser', display: 'human user' },
  patient: { system: SECURITY_ROLE, code: 'humanuser', display: 'human user' },
  operator: { system: SECURITY_ROLE, code: 'humanuser', display: 'human user' },
  system: { system: SECURITY_ROLE, code: 'dataprocessor', display: 'data processor' },
  anonymous: undefined,
};

/** A principal id is a FHIR reference for people (`Practitioner/1`), otherwise Ward's own identifier. */
function whoOf(id: string): Record<string, unknown> {
  if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(id)) return { reference: id };
  return { identifier: { system: WARD_PRINCIPAL_SYSTEM, value: id } };
}

function agentsOf(entry: AuditEntry): Record<string, unknown>[] {
  const who = entry.who;
  const type = AGENT_TYPE[who.kind];
  const agents: Record<string, unknown>[] = [
    {
      ...(type ? { type: { coding: [type] } } : {}),
      ...(who.roles.length > 0 ? { role: who.roles.map((r) => ({ coding: [{ system: WARD_ROLE_SYSTEM, code: r }] })) } : {}),
      who: whoOf(who.id),
      ...(who.tokenId ? { altId: who.tokenId } : {}),
      requestor: true,
      ...(entry.where.address ? { network: { address: entry.where.address, type: '2' } } : {}),
    },
  ];
  if (who.clientId) {
    agents.push({
      type: { coding: [dcm('110150', 'Application')] },
      who: { identifier: { system: WARD_CLIENT_SYSTEM, value: who.clientId } },
      requestor: false,
    });
  }
  if (who.agent) {
    agents.push({
      type: { coding: [{ system: SECURITY_ROLE, code: 'dataprocessor', display: 'data processor' }] },
      who: { display: `${who.agent.name} ${who.agent.version}` },
      requestor: false,
    });
  }
  const recipient = entry.action === 'disclose' ? entry.detail?.recipientName : undefined;
  if (recipient) {
    agents.push({
      type: { coding: [dcm('110152', 'Destination Role ID')] },
      who: { display: recipient },
      name: recipient,
      requestor: false,
      ...(entry.purposeOfUse !== 'none' ? { purposeOfUse: [purposeConcept(entry.purposeOfUse)] } : {}),
    });
  }
  return agents;
}

function entitiesOf(entry: AuditEntry): Record<string, unknown>[] {
  const entities: Record<string, unknown>[] = [];
  const patients = [
    ...new Set([...(entry.patientId ? [entry.patientId] : []), ...(entry.detail?.patients?.split(' ').filter(Boolean) ?? [])]),
  ];
  const disclosed = entry.action === 'disclose';
  const patientRole = { system: OBJECT_ROLE, code: '1', display: 'Patient' };
  let patientIsResource = false;

  if (entry.resourceType) {
    const hashed = entry.resourceId?.startsWith('hmac:') ?? false;
    patientIsResource =
      entry.resourceType === 'Patient' && !hashed && entry.resourceId !== undefined && patients.includes(entry.resourceId);
    const version = entry.versionId && !hashed ? `/_history/${entry.versionId}` : '';
    entities.push({
      ...(entry.resourceId
        ? {
            what: hashed
              ? { identifier: { system: WARD_HASHED_ID_SYSTEM, value: entry.resourceId } }
              : { reference: `${entry.resourceType}/${entry.resourceId}${version}` },
          }
        : {}),
      type: { system: RESOURCE_TYPES, code: entry.resourceType, display: entry.resourceType },
      role: patientIsResource ? patientRole : { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      ...(disclosed ? disclosureParts(entry) : {}),
    });
  }
  for (const patient of patients) {
    if (patientIsResource && patient === entry.resourceId) continue;
    entities.push({
      what: { reference: `Patient/${patient}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: patientRole,
      ...(disclosed && !entry.resourceType ? disclosureParts(entry) : {}),
    });
  }
  for (const returned of entry.returned ?? []) {
    const type = returned.slice(0, returned.indexOf('/'));
    entities.push({
      what: { reference: returned },
      type: { system: RESOURCE_TYPES, code: type, display: type },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  entities.push(contextEntity(entry));
  return entities;
}

function disclosureParts(entry: AuditEntry): Record<string, unknown> {
  return {
    lifecycle: { system: LIFECYCLE, code: '11', display: 'Disclosure' },
    ...(entry.detail?.description ? { description: entry.detail.description } : {}),
  };
}

/** The request context and decision, which AuditEvent has no element for, as entity details. */
function contextEntity(entry: AuditEntry): Record<string, unknown> {
  const details: [string, string | undefined][] = [
    ['decision', `${entry.decision.effect}${entry.decision.reasons.length ? `: ${entry.decision.reasons.join('; ')}` : ''}`],
    ['requestId', entry.where.requestId],
    ['method', entry.where.method],
    ['route', entry.where.route],
    ['userAgent', entry.where.userAgent],
    ['scopes', entry.who.scopes || undefined],
    ...Object.entries(entry.detail ?? {}).filter(([key]) => key !== 'patients'),
  ];
  return {
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    detail: details
      .filter((d): d is [string, string] => typeof d[1] === 'string' && d[1] !== '')
      .map(([type, value]) => ({ type, valueString: value })),
  };
}
