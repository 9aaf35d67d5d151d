import {
  EVERYTHING_CURSOR,
  type EverythingRequest,
  formatEverythingCursor,
  isPlainObject,
  parseEverything,
  WardError,
} from '../fhir/index.js';
import type { EverythingPage, Vault } from '../vault/index.js';
import type { FhirRequest, FhirResponse } from './fhir-request.js';
import { isLenient } from './search-bundle.js';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/**
 * `Patient/{id}/$everything` (R4 OperationDefinition Patient-everything), GET with query
 * parameters or POST with a Parameters resource (or a form body): a searchset Bundle paged by
 * `next` links. Only Patient has the operation here; Encounter and Group `$everything` are not built.
 */
export async function patientEverything(vault: Vault, baseUrl: string, req: FhirRequest): Promise<FhirResponse> {
  if (req.resourceType !== 'Patient' || !req.id) throw new WardError('WARD_ROUTE_NOT_FOUND');
  const query = new URLSearchParams([...req.query, ...parametersOf(req.body)]);
  const request = parseEverything(query, { lenient: isLenient(req.prefer) });
  const pageSize = Math.min(request.count ?? DEFAULT_PAGE, MAX_PAGE);
  const page = await vault.everything(req.principal, req.ctx, req.id, request, { pageSize });
  const path = `${baseUrl}/Patient/${req.id}/$everything`;
  return { status: 200, headers: {}, body: everythingBundle(path, baseUrl, request, page) };
}

function everythingBundle(path: string, baseUrl: string, request: EverythingRequest, page: EverythingPage): Record<string, unknown> {
  const link = (cursor: string | undefined) => {
    const q = new URLSearchParams(request.applied.map(([k, v]) => [k, v]));
    if (cursor !== undefined) q.set(EVERYTHING_CURSOR, cursor);
    const text = q.toString();
    return `${path}${text ? `?${text}` : ''}`;
  };
  const next = page.next ? formatEverythingCursor(page.next) : undefined;
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(page.total !== undefined ? { total: page.total } : {}),
    link: [
      { relation: 'self', url: link(formatEverythingCursor(request.cursor)) },
      ...(page.next ? [{ relation: 'next', url: link(next) }] : []),
    ],
    entry: [
      ...page.entries.map(({ resource, mode }) => ({
        fullUrl: `${baseUrl}/${resource.resource.resourceType}/${resource.resource.id}`,
        resource: resource.resource,
        search: { mode },
      })),
      ...(request.ignored.length > 0
        ? [
            {
              resource: {
                resourceType: 'OperationOutcome',
                issue: [
                  {
                    severity: 'warning',
                    code: 'not-supported',
                    diagnostics: `Parameters ignored (unknown or not supported): ${request.ignored.join(', ')}`,
                  },
                ],
              },
              search: { mode: 'outcome' },
            },
          ]
        : []),
    ],
  };
}

/**
 * The operation's parameters from a POST body: a FHIR Parameters resource (each parameter's
 * `value[x]` as its string form) or an application/x-www-form-urlencoded string.
 */
function parametersOf(body: unknown): URLSearchParams {
  if (body === undefined || body === null || body === '') return new URLSearchParams();
  if (typeof body === 'string') return new URLSearchParams(body);
  if (!isPlainObject(body) || body.resourceType !== 'Parameters') {
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'The body must be a Parameters resource' }] });
  }
  const out = new URLSearchParams();
  for (const p of Array.isArray(body.parameter) ? body.parameter : []) {
    const value = isPlainObject(p) ? Object.entries(p).find(([k]) => k.startsWith('value'))?.[1] : undefined;
    if (!isPlainObject(p) || typeof p.name !== 'string' || !['string', 'number'].includes(typeof value)) {
      throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'Each parameter needs a name and a primitive value[x]' }] });
    }
    out.append(p.name, String(value));
  }
  return out;
}
