import type { RequestContext } from '../audit/index.js';
import { kindOfSubject, type Principal, parseScopes, type Role } from '../policy/index.js';
import type { UserRow } from '../store/index.js';

/** One patient the picker offers: the id, and what the user recognises them by. */
export interface PatientChoice {
  readonly id: string;
  readonly display: string;
  readonly birthDate?: string;
}

/**
 * Patient look-ups for the patient picker of a standalone launch (`launch/patient` by a
 * workforce user). Identity sits below the vault, so the composition root supplies this from the
 * FHIR services: both calls go through the vault as the signed-in user, so the access policy
 * (roles, relationships, consents, labels) decides what is offered and what is accepted, and the
 * vault audits each search and read like any other.
 */
export interface PatientPicker {
  /** The patients whose name matches `text` that the principal may see, at most `limit`. */
  search(principal: Principal, ctx: RequestContext, text: string, limit: number): Promise<readonly PatientChoice[]>;
  /** Whether the principal may read this Patient (a refusal is audited by the vault). */
  mayOpen(principal: Principal, ctx: RequestContext, patientId: string): Promise<boolean>;
}

/** The client id the picker's own reads are recorded under: Ward's, not the app's, which has received nothing yet. */
export const PICKER_CLIENT_ID = 'ward-patient-picker';
/** At most this many patients are offered per search. */
export const PICKER_LIMIT = 20;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A search the picker runs: printable text of a sensible length, or nothing. */
export function pickerQuery(text: string | null | undefined): string | undefined {
  const q = (text ?? '').trim();
  return q.length >= 1 && q.length <= 64 && ![...q].some((c) => c.charCodeAt(0) < 32) ? q : undefined;
}

export function isPatientId(id: string | null | undefined): id is string {
  return typeof id === 'string' && FHIR_ID.test(id);
}

/**
 * The signed-in user as the picker acts: their FHIR user, roles and unit, reading patients only
 * (`user/Patient.rs`). The same account gets the same relationships as in Ward's web app.
 */
export function pickerPrincipal(user: UserRow): Principal {
  return {
    id: user.fhirUser,
    kind: kindOfSubject(user.fhirUser),
    roles: user.roles as readonly Role[],
    scopes: parseScopes('user/Patient.rs'),
    ...(user.organization ? { organizations: [user.organization] } : {}),
    clientId: PICKER_CLIENT_ID,
    tokenId: `picker:${user.id}`,
    purposeOfUse: 'TREAT',
  };
}
