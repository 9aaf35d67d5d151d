import type { Role } from './principal.js';
import type { SensitivityCode } from './security-labels.js';

/**
 * Ward's access policy as data: per role, which actions on which resource types, which elements
 * it sees of a type (masks, for minimum necessary, 45 CFR 164.502(b) · 164.514(d)), which
 * restricted labels it may see, whether clinical access needs a relationship to the patient, and
 * whether the role may use break-glass. Versioned with the code; every reason a decision gives
 * starts with a rule id from here. The exact rules are in docs/adr/0009-access-policy.md.
 */
export const POLICY_VERSION = 'ward-policy-4';

/** What a role may do with data; FHIR interactions map onto these (vread → read, patch → update, history → read/search). */
export type DataAction = 'read' | 'search' | 'create' | 'update' | 'delete' | 'export';
/**
 * `purge` removes a resource with every version, its current pointer and its search-index rows
 * (164.312(c)(1): history is destroyed only by the dedicated purge role, and audited). It is not a
 * data action: no organization override names it, and only the `purge` role's grant holds it.
 */
export type AccessAction = DataAction | 'purge';
export const ACCESS_ACTIONS: readonly DataAction[] = ['read', 'search', 'create', 'update', 'delete', 'export'];
/** The one role whose grant holds `purge` (checked when the policy loads). */
export const PURGE_ROLE = 'purge';

export interface TypeGrant {
  readonly id: string;
  /** `*` is every type except NAMED_ONLY ones. */
  readonly types: '*' | readonly string[];
  readonly actions: readonly AccessAction[];
}

/** The top-level elements a role sees of a type; id, meta and mandatory elements are always kept. */
export interface MaskRule {
  readonly id: string;
  readonly keep: readonly string[];
}

export interface RolePolicy {
  readonly grants: readonly TypeGrant[];
  /**
   * Actions taken back from the grants (an organization override's narrowing): a grant allows an
   * action on a type only when no withheld entry covers both. Absent in the default policy.
   */
  readonly withheld?: readonly TypeGrant[];
  readonly masks: Readonly<Record<string, MaskRule>>;
  /** Sensitivity classes the role may see (ETH stands for ETH and SUD); `*` all but psychotherapy notes. */
  readonly sensitive: '*' | readonly SensitivityCode[];
  /** A `user` principal of this role needs a relationship to the patient for compartment data. */
  readonly clinical: boolean;
}

/** Types only a grant that names them reaches; a `*` grant does not (the audit log view). */
export const NAMED_ONLY: ReadonlySet<string> = new Set(['AuditEvent']);

const ALL: readonly AccessAction[] = ['read', 'search', 'create', 'update', 'delete', 'export'];
const READ: readonly AccessAction[] = ['read', 'search'];
const READ_AND_APPEND: readonly AccessAction[] = ['create', 'read', 'search'];
const WRITE_NO_DELETE: readonly AccessAction[] = ['create', 'read', 'search', 'update'];

export const DIRECTORY = ['Organization', 'Location', 'Practitioner', 'PractitionerRole', 'HealthcareService', 'Endpoint'];
export const DEMOGRAPHICS = ['Patient', 'RelatedPerson', 'Person', 'Coverage', 'Appointment', 'AppointmentResponse', 'Schedule', 'Slot'];
export const FINANCIAL = [
  'Account',
  'ChargeItem',
  'Claim',
  'ClaimResponse',
  'Coverage',
  'CoverageEligibilityRequest',
  'CoverageEligibilityResponse',
  'ExplanationOfBenefit',
  'Invoice',
  'PaymentNotice',
  'PaymentReconciliation',
];
/** Vitals, care plans, medications and allergies, and the clinical context a nurse works in. */
export const NURSING = [
  'Patient',
  'RelatedPerson',
  'Encounter',
  'EpisodeOfCare',
  'Observation',
  'CarePlan',
  'CareTeam',
  'Goal',
  'Condition',
  'Procedure',
  'AllergyIntolerance',
  'Immunization',
  'Medication',
  'MedicationRequest',
  'MedicationAdministration',
  'MedicationDispense',
  'MedicationStatement',
  'ServiceRequest',
  'Task',
  'Flag',
  'Communication',
  'DocumentReference',
  'DiagnosticReport',
  'Specimen',
  'Device',
  'Appointment',
];
export const PHARMACY = [
  'Patient',
  'Encounter',
  'Observation',
  'Condition',
  'AllergyIntolerance',
  'Medication',
  'MedicationRequest',
  'MedicationDispense',
  'MedicationAdministration',
  'MedicationStatement',
  'MedicationKnowledge',
];
export const LABORATORY = ['Patient', 'Encounter', 'ServiceRequest', 'Specimen', 'Observation', 'DiagnosticReport', 'Task', 'Device'];

/** Billing sees an Encounter's administrative frame, never its reasons, diagnoses, participants or narrative. */
const BILLING_ENCOUNTER: MaskRule = {
  id: 'mask/billing/Encounter',
  keep: ['identifier', 'status', 'class', 'subject', 'period', 'length', 'account', 'serviceProvider', 'episodeOfCare', 'partOf'],
};
/** Billing sees who the patient is and how to reach them; not extensions (race, gender identity), contacts or narrative. */
const BILLING_PATIENT: MaskRule = {
  id: 'mask/billing/Patient',
  keep: ['identifier', 'active', 'name', 'telecom', 'gender', 'birthDate', 'address', 'managingOrganization'],
};

/** The most a clinical role may be shown: an override may widen a clinical role up to this, never further. */
export const CLINICIAN_LABELS: readonly SensitivityCode[] = ['PSY', 'MH', 'BH', 'HIV', 'STD', 'SDV', 'SEX', 'GDIS'];

export const ACCESS_POLICY: Readonly<Record<Role, RolePolicy>> = {
  physician: { grants: [{ id: 'grant/physician/*', types: '*', actions: ALL }], masks: {}, sensitive: CLINICIAN_LABELS, clinical: true },
  nurse: {
    grants: [
      { id: 'grant/nurse/nursing', types: NURSING, actions: WRITE_NO_DELETE },
      { id: 'grant/nurse/directory', types: DIRECTORY, actions: READ },
    ],
    masks: {},
    sensitive: ['HIV', 'STD', 'SEX', 'GDIS'],
    clinical: true,
  },
  'medical-assistant': {
    grants: [
      { id: 'grant/medical-assistant/nursing', types: NURSING, actions: WRITE_NO_DELETE },
      { id: 'grant/medical-assistant/directory', types: DIRECTORY, actions: READ },
    ],
    masks: {},
    sensitive: [],
    clinical: true,
  },
  pharmacist: {
    grants: [
      { id: 'grant/pharmacist/pharmacy', types: PHARMACY, actions: WRITE_NO_DELETE },
      { id: 'grant/pharmacist/directory', types: DIRECTORY, actions: READ },
    ],
    masks: {},
    sensitive: ['HIV'],
    clinical: true,
  },
  'lab-technician': {
    grants: [
      { id: 'grant/lab-technician/laboratory', types: LABORATORY, actions: WRITE_NO_DELETE },
      { id: 'grant/lab-technician/directory', types: DIRECTORY, actions: READ },
    ],
    masks: {},
    sensitive: ['HIV', 'STD'],
    clinical: true,
  },
  'front-desk': {
    grants: [{ id: 'grant/front-desk/demographics', types: [...DEMOGRAPHICS, ...DIRECTORY], actions: WRITE_NO_DELETE }],
    masks: {},
    sensitive: [],
    clinical: false,
  },
  billing: {
    grants: [
      { id: 'grant/billing/financial', types: [...FINANCIAL, ...DIRECTORY], actions: WRITE_NO_DELETE },
      // Masked types are read-only: a masked copy written back would erase what the mask hid.
      { id: 'grant/billing/encounter-patient', types: ['Encounter', 'Patient'], actions: READ },
    ],
    masks: { Encounter: BILLING_ENCOUNTER, Patient: BILLING_PATIENT },
    sensitive: [],
    clinical: false,
  },
  'privacy-officer': {
    grants: [
      { id: 'grant/privacy-officer/oversight', types: ['Consent', 'Provenance', 'Patient'], actions: READ },
      { id: 'grant/privacy-officer/audit-log', types: ['AuditEvent'], actions: READ_AND_APPEND },
    ],
    masks: {},
    sensitive: '*',
    clinical: false,
  },
  auditor: { grants: [{ id: 'grant/auditor/audit-log', types: ['AuditEvent'], actions: READ }], masks: {}, sensitive: [], clinical: false },
  // Separation of duties: the administrator manages the directory, never clinical PHI.
  'system-admin': {
    grants: [{ id: 'grant/system-admin/directory', types: DIRECTORY, actions: ALL }],
    masks: {},
    sensitive: [],
    clinical: false,
  },
  // Right of access (164.524) covers all of the patient's record but psychotherapy notes.
  patient: { grants: [{ id: 'grant/patient/own-record', types: '*', actions: READ }], masks: {}, sensitive: '*', clinical: false },
  proxy: { grants: [{ id: 'grant/proxy/linked-record', types: '*', actions: READ }], masks: {}, sensitive: [], clinical: false },
  system: { grants: [{ id: 'grant/system/*', types: '*', actions: ALL }], masks: {}, sensitive: '*', clinical: false },
  // Destroys history and nothing else: it cannot read, search, write or export a resource, sees no label.
  purge: { grants: [{ id: 'grant/purge/*', types: '*', actions: ['purge'] }], masks: {}, sensitive: [], clinical: false },
};

/** The grant of a role that allows an action on a type (`undefined` type: a system-wide query). */
export function grantFor(role: Role, resourceType: string | undefined, action: AccessAction): TypeGrant | undefined {
  return grantIn(ACCESS_POLICY[role], resourceType, action);
}

/** The grant of a role's policy (default or overridden) that allows an action on a type, unless withheld. */
export function grantIn(policy: RolePolicy, resourceType: string | undefined, action: AccessAction): TypeGrant | undefined {
  const covers = (g: TypeGrant) =>
    g.actions.includes(action) &&
    (g.types === '*'
      ? resourceType === undefined || !NAMED_ONLY.has(resourceType)
      : resourceType !== undefined && g.types.includes(resourceType));
  const grant = policy.grants.find(covers);
  if (!grant || !policy.withheld) return grant;
  const withheld = policy.withheld.some(
    (w) => w.actions.includes(action) && (w.types === '*' || (resourceType !== undefined && w.types.includes(resourceType))),
  );
  return withheld ? undefined : grant;
}

export function maskFor(role: Role, resourceType: string | undefined): MaskRule | undefined {
  return maskIn(ACCESS_POLICY[role], resourceType);
}

export function maskIn(policy: RolePolicy, resourceType: string | undefined): MaskRule | undefined {
  return resourceType === undefined ? undefined : policy.masks[resourceType];
}

/**
 * The policy's own invariants, checked when the module loads (a broken policy is a start-up
 * TypeError, not a run-time surprise) and on every organization override before it is stored: a
 * masked type is never writable by the masked role, no grant names an unknown action, and `purge`
 * is granted to the purge role alone, on a grant of its own.
 */
export function checkPolicy(policy: Readonly<Record<string, RolePolicy>>): void {
  for (const [role, p] of Object.entries(policy)) {
    for (const grant of p.grants) {
      for (const a of grant.actions) {
        if (a === 'purge' && role !== PURGE_ROLE)
          throw new TypeError(`policy: ${grant.id} grants purge to a role other than ${PURGE_ROLE}`);
        if (a === 'purge' && grant.actions.length > 1) throw new TypeError(`policy: ${grant.id} grants purge beside other actions`);
        if (a !== 'purge' && !(ACCESS_ACTIONS as readonly string[]).includes(a))
          throw new TypeError(`policy: ${grant.id} names an unknown action`);
      }
    }
    for (const type of Object.keys(p.masks)) {
      const writable = (['create', 'update', 'delete'] as const).some((a) => grantIn(p, type, a) !== undefined);
      if (writable) throw new TypeError(`policy: role ${role} may write ${type}, which it sees masked`);
    }
  }
}

checkPolicy(ACCESS_POLICY);
