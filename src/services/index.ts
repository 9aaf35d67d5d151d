export type { RequestContext } from '../vault/index.js';
export { AuditorInteractions, type AuditorRequest, type StreamResponse } from './auditor-interactions.js';
export { BundleInteractions } from './bundle-interactions.js';
export { capabilityStatement } from './capability-statement.js';
export { FhirInteractions } from './fhir-interactions.js';
export type { FhirRequest, FhirResponse } from './fhir-request.js';
export { OrganizationPolicyInteractions, type OrganizationPolicyRequest } from './organization-policy-interactions.js';
export { PatientChoices, type PatientChoiceView } from './patient-choices.js';
