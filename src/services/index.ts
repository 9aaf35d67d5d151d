export type { RequestContext } from '../vault/index.js';
export { capabilityStatement } from './capability-statement.js';
export { FhirInteractions } from './fhir-interactions.js';
export type { FhirRequest, FhirResponse } from './fhir-request.js';
