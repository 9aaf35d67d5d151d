import type { ScopeSet } from './scopes.js';

/** The built-in roles (issue 6 names them; tokens carry them). */
export const ROLES = [
  'physician',
  'nurse',
  'medical-assistant',
  'front-desk',
  'billing',
  'pharmacist',
  'lab-technician',
  'privacy-officer',
  'auditor',
  'system-admin',
  'patient',
  'proxy',
  'system',
  /** A service role that may only hard-purge a resource (164.312(c)(1)); it reads nothing and is held alone. */
  'purge',
] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export type PrincipalKind = 'user' | 'patient' | 'system' | 'operator';

/**
 * Who is acting, as established by the edge. Every vault call takes one; there is no ambient
 * identity. `id` is a FHIR reference for people (`Practitioner/123`, `Patient/456`), `system` for
 * services, `operator:<name>` for operator commands.
 */
export interface Principal {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly roles: readonly Role[];
  readonly scopes: ScopeSet;
  /** Patient context of the token (the id of a Patient), for patient/ scopes. */
  readonly patient?: string;
  readonly clientId?: string;
  readonly tokenId?: string;
  /** HL7 v3 PurposeOfUse code; TREAT unless the token says otherwise. */
  readonly purposeOfUse: string;
  /**
   * The organization units (`Organization/<id>`) a workforce user belongs to, from the token's
   * `ward_organizations` claim (the account's organization at login, or `ward token create
   * --organization`). They give unit relationships and match Consent actors naming an organization.
   */
  readonly organizations?: readonly string[];
  /**
   * Present only for a principal of a web session (ADR 0010): its handle, and when and how its
   * holder last proved a second factor again with `POST /auth/step-up` (ADR 0014). Bearer tokens
   * (operator, login and SMART app tokens) carry none: nobody can be re-prompted through them.
   */
  readonly session?: {
    readonly handle: string;
    readonly stepUp?: { readonly at: Date; readonly method: 'totp' | 'webauthn' };
  };
}

/** Derives the principal kind from a token subject. */
export function kindOfSubject(sub: string): PrincipalKind {
  if (sub === 'system') return 'system';
  if (sub.startsWith('operator:')) return 'operator';
  if (sub.startsWith('Patient/')) return 'patient';
  return 'user';
}
