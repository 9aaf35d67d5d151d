import type { Role } from './principal.js';

/**
 * Separation of duties ([NPRM] 164.312(a)(2)(ii), proposed): administrative privileges live on
 * identities of their own, never beside the roles people use day to day, so that a phished
 * clinician's session cannot administer Ward, and an administrator reaches PHI only through a
 * separate, separately audited identity.
 */
export const ADMINISTRATIVE_ROLES: readonly Role[] = ['system-admin'];
/** Roles that treat patients; named in refusals so the operator sees which rule applied. */
export const CLINICAL_ROLES: readonly Role[] = ['physician', 'nurse', 'medical-assistant', 'pharmacist', 'lab-technician'];

/**
 * Roles held alone by a principal of their own: the purge role destroys history (164.312(c)(1)),
 * so it sits on a dedicated service identity and never beside a role that reads or writes PHI.
 */
export const SOLITARY_ROLES: readonly Role[] = ['purge'];

export type SeparationRefusal = 'clinical-and-administrative' | 'administrative-and-other' | 'purge-and-other';

/** Whether one principal (account or token) may hold these roles together; pure. */
export function separationRefusal(roles: readonly Role[]): SeparationRefusal | undefined {
  const distinct = new Set(roles);
  if (roles.some((r) => SOLITARY_ROLES.includes(r)) && distinct.size > 1) return 'purge-and-other';
  const admin = roles.filter((r) => ADMINISTRATIVE_ROLES.includes(r));
  if (admin.length === 0 || admin.length === roles.length) return undefined;
  return roles.some((r) => CLINICAL_ROLES.includes(r)) ? 'clinical-and-administrative' : 'administrative-and-other';
}

export const SEPARATION_TEXT: Readonly<Record<SeparationRefusal, string>> = {
  'clinical-and-administrative': 'An account cannot hold both a clinical and an administrative role; administrators use a separate account',
  'administrative-and-other': 'An administrative role is held alone; administrators use a separate account',
  'purge-and-other': 'The purge role is held alone, by a dedicated service identity',
};
