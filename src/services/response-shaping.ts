import { applyElements, applySummary, type FhirResource, type SummaryMode, WardError } from '../fhir/index.js';

const SUMMARY_MODES = new Set(['true', 'text', 'data', 'false']);

/** Applies `_summary` and `_elements` to a resource about to be returned. */
export function shapeResource(resource: FhirResource, query: URLSearchParams): FhirResource {
  const summary = query.get('_summary');
  const elements = query.get('_elements');
  let shaped = resource;
  if (summary !== null) {
    if (!SUMMARY_MODES.has(summary)) {
      throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: '_summary must be true, text, data, count or false' }] });
    }
    shaped = applySummary(shaped, summary as SummaryMode);
  }
  if (elements !== null)
    shaped = applyElements(
      shaped,
      elements
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
    );
  return shaped;
}
