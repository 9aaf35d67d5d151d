import type { FhirResource } from '../../src/fhir/index.js';
import { type BreakGlassGrant, kindOfSubject, type PolicyFacts, type Principal, parseScopes, type Role } from '../../src/policy/index.js';

/** Fixtures shared by the policy tests: principals as the edge builds them, labels, Consents, facts. */
export const NOW = new Date('2026-11-24T10:00:00Z');
const MINUTE = 60_000;

export function person(id: string, roles: Role | Role[], scope = 'user/*.cruds', patient?: string, purposeOfUse = 'TREAT'): Principal {
  return {
    id,
    kind: kindOfSubject(id),
    roles: [roles].flat(),
    scopes: parseScopes(scope),
    ...(patient ? { patient } : {}),
    purposeOfUse,
  };
}

export const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const CONF = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const sensitivity = (code: string) => ({ system: V3, code });
export const confidentiality = (code: string) => ({ system: CONF, code });

/** A privacy Consent of patient P (R4), with the given root provision. */
export function consent(id: string, provision: Record<string, unknown>, extra: Record<string, unknown> = {}, patient = 'P'): FhirResource {
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    provision,
    ...extra,
  };
}

export const actor = (reference: string) => ({
  role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
  reference: { reference },
});

/** "Everyone may, except this actor": the patient denies one named practitioner. */
export const denyActor = (id: string, reference: string): FhirResource =>
  consent(id, { type: 'permit', provision: [{ type: 'deny', actor: [actor(reference)] }] });

export function breakGlass(principal: string, patient = 'P', overrides: Partial<BreakGlassGrant> = {}): BreakGlassGrant {
  return {
    id: 'bg-1',
    principal,
    patient,
    reason: 'patient unconscious in the emergency department',
    start: new Date(NOW.getTime() - 10 * MINUTE),
    end: new Date(NOW.getTime() + 50 * MINUTE),
    ...overrides,
  };
}

export const facts = (f: Partial<PolicyFacts> = {}): PolicyFacts => ({ now: NOW, ...f });
