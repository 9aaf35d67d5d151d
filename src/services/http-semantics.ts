import { WardError } from '../fhir/index.js';

/** `W/"3"` or `"3"` → 3. An If-Match that names no version can never match: 412. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header);
  if (!m) throw new WardError('WARD_VERSION_CONFLICT', { details: [{ diagnostics: 'If-Match must be an ETag such as W/"3"' }] });
  return Number(m[1]);
}

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

export function parsePrefer(header: string | undefined): ReturnPreference {
  const m = /(?:^|[;,\s])return=(minimal|representation|OperationOutcome)\b/.exec(header ?? '');
  return (m?.[1] as ReturnPreference | undefined) ?? 'representation';
}

export function etag(versionId: number): string {
  return `W/"${versionId}"`;
}

export function versionHeaders(
  baseUrl: string,
  resourceType: string,
  id: string,
  versionId: number,
  lastUpdated: Date,
): Record<string, string> {
  return {
    etag: etag(versionId),
    'last-modified': lastUpdated.toUTCString(),
    location: `${baseUrl}/${resourceType}/${id}/_history/${versionId}`,
  };
}

export function parsePositiveInt(name: string, raw: string | null, fallback: number, max: number): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${name} must be a non-negative integer` }] });
  return Math.min(n, max);
}
