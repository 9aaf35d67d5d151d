/** The shape every stored resource has; the rest of its content is checked by validation. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: {
    versionId?: string;
    lastUpdated?: string;
    source?: string;
    profile?: string[];
    security?: { system?: string; code?: string; display?: string }[];
    tag?: { system?: string; code?: string; display?: string }[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** FHIR id: 1–64 of [A-Za-z0-9-.]. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function isFhirId(value: string): boolean {
  return FHIR_ID.test(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
