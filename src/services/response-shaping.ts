import { applyElements, applySummary, type FhirResource, type SummaryMode, WardError } from '../fhir/index.js';

const SUMMARY_MODES = new Set(['true', 'text', 'data', 'false']);

export type Shaper = (resource: FhirResource) => FhirResource;

/**
 * Reads `_summary` and `_elements` and returns what applies them. Called before the vault, so a
 * malformed value is refused before any data is read, and audited as the refusal it is.
 */
export function shaperFor(query: URLSearchParams): Shaper {
  const summary = query.get('_summary');
  const elements = query.get('_elements');
  if (summary !== null && !SUMMARY_MODES.has(summary)) {
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: '_summary must be true, text, data or false' }] });
  }
  const list = elements
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  return (resource) => {
    let shaped = resource;
    if (summary !== null) shaped = applySummary(shaped, summary as SummaryMode);
    if (list) shaped = applyElements(shaped, list);
    return shaped;
  };
}
