export {
  type BundleEntryRequest,
  type BundleKind,
  type BundleRequest,
  conditionalReference,
  type EntryMethod,
  isTemporaryReference,
  MAX_BUNDLE_ENTRIES,
  PROCESSING_RANK,
  parseBundle,
  referencesIn,
  replaceReferences,
} from './bundle-request.js';
export { careDateParameters } from './care-dates.js';
export { categoriesOf } from './categories.js';
export { type ConditionalCriteria, parseConditional } from './conditional-criteria.js';
export { isResourceType, RESOURCE_TYPES } from './definitions.js';
export { ERROR_CODES, type ErrorCode, type ErrorDetail, isWardError, WardError } from './errors.js';
export {
  EVERYTHING_CURSOR,
  type EverythingCursor,
  type EverythingRequest,
  formatEverythingCursor,
  parseEverything,
} from './everything-request.js';
export { snapshotJson } from './json-snapshot.js';
export { informationOutcome, type OperationOutcome, type OperationOutcomeIssue, outcomeForError } from './operation-outcome.js';
export { patientCompartmentOf } from './patient-compartment.js';
export { FHIR_ID, type FhirResource, isFhirId, isPlainObject } from './resource.js';
export { compositePlan } from './search-composite.js';
export { calendarBlocks, type DateRange, MAX_MS, MIN_MS, parseFhirDate } from './search-dates.js';
export { extractIndexValues, type IndexValue, indexPlan, PERSON_TYPES } from './search-extraction.js';
export type { IncludeSpec } from './search-includes.js';
export { compositeMatches } from './search-matching.js';
export { lookupPrefix, MAX_PREFIX, normalizeString, prefixesOf } from './search-normalize.js';
export { expressionFor, type SearchParameterDefinition, searchParameter, searchParametersOf } from './search-parameters.js';
export {
  type Criterion,
  type DateTest,
  type NumberTest,
  type Prefix,
  parseSearch,
  type SearchRequest,
  type SortKey,
  type SortSpec,
  type TokenTest,
} from './search-request.js';
export { applyElements, applySummary, type SummaryMode } from './summary.js';
export { type IssueCode, type IssueSeverity, type ValidationIssue, validateResource } from './validation.js';
