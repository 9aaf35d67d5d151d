import type { Role } from './principal.js';
import type { Permission } from './scopes.js';

/**
 * The per-role allow-list: which permissions a role has on which resource types. It is data,
 * versioned with the code; the full policy (masking, relationships, labels, consent) extends it.
 * Least privilege (164.312(a)(1)): front desk and billing see no clinical resources, the system
 * administrator reads no clinical PHI (separation of duties). The audit log, served as
 * AuditEvent, is reached only by the roles that name it: the privacy officer (who also records
 * disclosures, appended as log entries) and the read-only auditor. A `*` grant never covers it,
 * so clinicians, patients and services cannot read who looked at what (170.315(d)(2)(iv), (d)(3)).
 */
export const POLICY_VERSION = 'ward-roles-2';

/** Types only a grant that names them reaches; a `*` grant does not. */
const NAMED_ONLY: ReadonlySet<string> = new Set(['AuditEvent']);

type Grant = { readonly types: '*' | ReadonlySet<string>; readonly permissions: ReadonlySet<Permission> };

const ALL: ReadonlySet<Permission> = new Set(['c', 'r', 'u', 'd', 's']);
const READ: ReadonlySet<Permission> = new Set(['r', 's']);
const READ_AND_APPEND: ReadonlySet<Permission> = new Set(['c', 'r', 's']);
const WRITE_NO_DELETE: ReadonlySet<Permission> = new Set(['c', 'r', 'u', 's']);

const DIRECTORY = ['Organization', 'Location', 'Practitioner', 'PractitionerRole', 'HealthcareService', 'Endpoint'];
const DEMOGRAPHICS = ['Patient', 'RelatedPerson', 'Person', 'Coverage', 'Appointment', 'AppointmentResponse', 'Schedule', 'Slot'];
const FINANCIAL = [
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
  'Encounter',
  'Patient',
];

const types = (...lists: readonly string[][]): ReadonlySet<string> => new Set(lists.flat());

export const ROLE_GRANTS: Readonly<Record<Role, readonly Grant[]>> = {
  physician: [{ types: '*', permissions: ALL }],
  nurse: [{ types: '*', permissions: WRITE_NO_DELETE }],
  'medical-assistant': [{ types: '*', permissions: WRITE_NO_DELETE }],
  pharmacist: [{ types: '*', permissions: WRITE_NO_DELETE }],
  'lab-technician': [{ types: '*', permissions: WRITE_NO_DELETE }],
  'front-desk': [{ types: types(DEMOGRAPHICS, DIRECTORY), permissions: WRITE_NO_DELETE }],
  billing: [{ types: types(FINANCIAL, DIRECTORY), permissions: WRITE_NO_DELETE }],
  'privacy-officer': [
    { types: types(['Consent', 'Provenance', 'Patient']), permissions: READ },
    { types: types(['AuditEvent']), permissions: READ_AND_APPEND },
  ],
  auditor: [{ types: types(['AuditEvent']), permissions: READ }],
  'system-admin': [{ types: types(DIRECTORY), permissions: ALL }],
  patient: [{ types: '*', permissions: READ }],
  proxy: [{ types: '*', permissions: READ }],
  system: [{ types: '*', permissions: ALL }],
};

export function roleAllows(role: Role, resourceType: string | undefined, permission: Permission): boolean {
  return ROLE_GRANTS[role].some(
    (g) =>
      g.permissions.has(permission) &&
      (g.types === '*'
        ? resourceType === undefined || !NAMED_ONLY.has(resourceType)
        : resourceType !== undefined && g.types.has(resourceType)),
  );
}
