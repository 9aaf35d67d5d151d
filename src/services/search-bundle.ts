import type { SearchRequest } from '../fhir/index.js';
import type { SearchPage } from '../vault/index.js';
import { withRedisclosureNotice } from './part2-notice.js';
import type { Shaper } from './response-shaping.js';

/**
 * The searchset Bundle (R4 §3.1.1.7): `self` shows only the parameters applied (and the page's
 * `_offset`), `next`, `previous` and `first` the same query at another offset, counted in visible
 * matches; parameters ignored under `Prefer: handling=lenient` are named in an
 * OperationOutcome entry.
 */
export function searchBundle(options: {
  path: string;
  baseUrl: string;
  request: SearchRequest;
  page: SearchPage;
  pageSize: number;
  shape: Shaper;
}): Record<string, unknown> {
  const { path, baseUrl, request, page, pageSize, shape } = options;
  const warnings = warningsOf(request, page);
  const link = (offset: number) => {
    const q = new URLSearchParams(request.applied.map(([k, v]) => [k, v]));
    if (offset > 0) q.set('_offset', String(offset));
    const text = q.toString();
    return `${path}${text ? `?${text}` : ''}`;
  };
  return withRedisclosureNotice({
    resourceType: 'Bundle',
    type: 'searchset',
    ...(page.total !== undefined ? { total: page.total } : {}),
    link: [
      { relation: 'self', url: link(request.offset) },
      ...(request.offset > 0
        ? [
            { relation: 'first', url: link(0) },
            { relation: 'previous', url: link(Math.max(0, request.offset - pageSize)) },
          ]
        : []),
      ...(page.hasNext ? [{ relation: 'next', url: link(request.offset + pageSize) }] : []),
    ],
    entry: [
      ...page.entries.map((f) => ({
        fullUrl: `${baseUrl}/${f.resource.resourceType}/${f.resource.id}`,
        resource: shape(f.resource),
        search: { mode: 'match' },
      })),
      ...page.included.map((f) => ({
        fullUrl: `${baseUrl}/${f.resource.resourceType}/${f.resource.id}`,
        resource: shape(f.resource),
        search: { mode: 'include' },
      })),
      ...(warnings.length > 0 ? [{ resource: { resourceType: 'OperationOutcome', issue: warnings }, search: { mode: 'outcome' } }] : []),
    ],
  });
}

function warningsOf(request: SearchRequest, page: SearchPage): Record<string, string>[] {
  return [
    ...(request.ignored.length > 0
      ? [
          {
            severity: 'warning',
            code: 'not-supported',
            diagnostics: `Parameters ignored (unknown or not supported): ${request.ignored.join(', ')}`,
          },
        ]
      : []),
    ...(page.includeTruncated
      ? [
          {
            severity: 'warning',
            code: 'too-costly',
            diagnostics: 'Not every included resource is in this page: narrow _include or _revinclude',
          },
        ]
      : []),
  ];
}

/** `Prefer: handling=lenient` (R4 §3.1.1.3): unknown parameters are ignored and reported, not refused. */
export function isLenient(prefer: string | undefined): boolean {
  return /(?:^|[;,\s])handling=lenient\b/.test(prefer ?? '');
}
