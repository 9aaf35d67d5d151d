import jsonPatch from 'fast-json-patch';
import {
  type ConditionalCriteria,
  type FhirResource,
  informationOutcome,
  isResourceType,
  isWardError,
  parseConditional,
  parseSearch,
  WardError,
} from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import type { DeleteResult, HistoryPage, RequestContext, Vault, VersionedResource, WriteResult } from '../vault/index.js';
import { patientEverything } from './everything-interaction.js';
import type { FhirRequest, FhirResponse } from './fhir-request.js';
import { etag, parseIfMatch, parsePositiveInt, parsePrefer, versionHeaders } from './http-semantics.js';
import { withRedisclosureNotice } from './part2-notice.js';
import { type Shaper, shaperFor } from './response-shaping.js';
import { isLenient, searchBundle } from './search-bundle.js';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/**
 * The FHIR RESTful interactions (R4 §3.1.0), over the vault. Plain requests in, plain responses
 * out; HTTP lives in the edge.
 */
export class FhirInteractions {
  readonly #vault: Vault;
  readonly #baseUrl: string;

  readonly #maxResourceBytes: number;

  /** `maxResourceBytes` bounds what a JSON Patch may grow a resource to (the body limit). */
  constructor(vault: Vault, baseUrl: string, options: { maxResourceBytes: number }) {
    this.#maxResourceBytes = options.maxResourceBytes;
    this.#vault = vault;
    this.#baseUrl = baseUrl.replace(/\/$/, '');
  }

  /** Audits a request that ended before any interaction ran (no credentials, bad body, unknown route). */
  async recordRequest(
    principal: Principal | null,
    ctx: RequestContext,
    outcome: { status: number; code: string; resourceType?: string; resourceId?: string },
  ): Promise<void> {
    await this.#vault.recordRequest(principal, ctx, outcome);
  }

  async read(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const shape = shaperFor(req.query);
    const found = await this.#vault.read(req.principal, req.ctx, resourceType, id);
    return this.#resourceResponse(found, shape);
  }

  async vread(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const versionId = Number(req.versionId);
    const shape = shaperFor(req.query);
    const found = await this.#vault.vread(req.principal, req.ctx, resourceType, id, Number.isInteger(versionId) ? versionId : Number.NaN);
    return this.#resourceResponse(found, shape);
  }

  async create(req: FhirRequest): Promise<FhirResponse> {
    const resourceType = typeOf(req);
    const ifNoneExist = req.ifNoneExist !== undefined ? conditionFrom(resourceType, new URLSearchParams(req.ifNoneExist)) : undefined;
    const result = await this.#vault.create(req.principal, req.ctx, resourceType, req.body, {
      ...(ifNoneExist ? { ifNoneExist } : {}),
      ...(req.assignedId !== undefined ? { assignedId: req.assignedId } : {}),
    });
    return this.#writeResponse(result, req.prefer);
  }

  async update(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const ifMatch = parseIfMatch(req.ifMatch);
    const result = await this.#vault.update(req.principal, req.ctx, resourceType, id, req.body, ifMatch !== undefined ? { ifMatch } : {});
    return this.#writeResponse(result, req.prefer);
  }

  /** Updates by id of distinct resources inside a transaction Bundle, committed together (Vault.updateMany). */
  async updateMany(reqs: readonly FhirRequest[], at: (k: number) => void): Promise<FhirResponse[]> {
    const first = reqs[0];
    if (!first) return [];
    const updates = reqs.map((req, k) => {
      at(k);
      const { resourceType, id } = typeAndId(req);
      return { resourceType, id, body: req.body };
    });
    const results = await this.#vault.updateMany(first.principal, first.ctx, updates, at);
    return results.map((r, k) => this.#writeResponse(r, reqs[k]?.prefer));
  }

  async conditionalUpdate(req: FhirRequest): Promise<FhirResponse> {
    const resourceType = typeOf(req);
    const result = await this.#vault.conditionalUpdate(
      req.principal,
      req.ctx,
      resourceType,
      conditionFrom(resourceType, req.query),
      req.body,
      req.assignedId !== undefined ? { assignedId: req.assignedId } : {},
    );
    return this.#writeResponse(result, req.prefer);
  }

  async patch(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const ifMatch = parseIfMatch(req.ifMatch);
    const operations = req.body;
    if (!Array.isArray(operations)) {
      throw new WardError('WARD_INVALID_PATCH', { details: [{ diagnostics: 'A JSON Patch body must be an array of operations' }] });
    }
    const result = await this.#vault.patch(
      req.principal,
      req.ctx,
      resourceType,
      id,
      (current) => applyJsonPatch(current, operations, this.#maxResourceBytes),
      ifMatch !== undefined ? { ifMatch } : {},
    );
    return this.#writeResponse(result, req.prefer);
  }

  async delete(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const ifMatch = parseIfMatch(req.ifMatch);
    return deleteResponse(await this.#vault.delete(req.principal, req.ctx, resourceType, id, ifMatch !== undefined ? { ifMatch } : {}));
  }

  async conditionalDelete(req: FhirRequest): Promise<FhirResponse> {
    const resourceType = typeOf(req);
    return deleteResponse(
      await this.#vault.conditionalDelete(req.principal, req.ctx, resourceType, conditionFrom(resourceType, req.query)),
    );
  }

  /**
   * Type-level search (GET, or POST `_search` with a form body), and Patient-compartment search
   * (`Patient/{id}/{type}`) when `req.id` names the patient and `req.compartmentType` the type.
   */
  async search(req: FhirRequest): Promise<FhirResponse> {
    const compartment = req.compartmentType !== undefined;
    if (compartment && req.resourceType !== 'Patient') throw new WardError('WARD_ROUTE_NOT_FOUND');
    const resourceType = compartment ? typeOf({ ...req, resourceType: req.compartmentType }) : typeOf(req);
    const query = new URLSearchParams([...req.query, ...formBody(req.body)]);
    const request = parseSearch(resourceType, query, { lenient: isLenient(req.prefer), now: new Date() });
    const pageSize = Math.min(request.count ?? DEFAULT_PAGE, MAX_PAGE);
    const withoutCount = new URLSearchParams([...query].filter(([k]) => k !== '_summary' || query.get('_summary') !== 'count'));
    const shape = shaperFor(withoutCount);
    const page = await this.#vault.search(req.principal, req.ctx, resourceType, request, {
      pageSize,
      ...(compartment ? { compartment: req.id as string } : {}),
    });
    const path = compartment ? `${this.#baseUrl}/Patient/${req.id}/${resourceType}` : `${this.#baseUrl}/${resourceType}`;
    return { status: 200, headers: {}, body: searchBundle({ path, baseUrl: this.#baseUrl, request, page, pageSize, shape }) };
  }

  /** `[type]/[id]/$purge` (POST): the resource and its whole history removed, by the purge role only (ADR 0018). */
  async purge(req: FhirRequest): Promise<FhirResponse> {
    const { resourceType, id } = typeAndId(req);
    const { versions } = await this.#vault.purge.resource(req.principal, req.ctx, resourceType, id);
    return {
      status: 200,
      headers: {},
      body: informationOutcome(`Purged: ${versions} version(s), the current pointer and the search index rows were removed.`),
    };
  }

  /** `Patient/{id}/$everything` (GET or POST); see everything-interaction.ts. */
  everything(req: FhirRequest): Promise<FhirResponse> {
    return patientEverything(this.#vault, this.#baseUrl, req);
  }

  /** Instance, type or system history (R4 §3.1.0.4), newest first, paged by an opaque cursor. */
  async history(req: FhirRequest): Promise<FhirResponse> {
    if (req.resourceType !== undefined && !isResourceType(req.resourceType)) throw new WardError('WARD_UNKNOWN_TYPE');
    for (const name of req.query.keys()) {
      if (!['_count', '_since', '_page', '_format'].includes(name)) {
        throw new WardError('WARD_UNKNOWN_PARAMETER', { details: [{ diagnostics: 'history supports _count, _since and paging only' }] });
      }
    }
    const count = parsePositiveInt('_count', req.query.get('_count'), DEFAULT_PAGE, MAX_PAGE) || DEFAULT_PAGE;
    const cursorRaw = req.query.get('_page');
    const beforeSeq = cursorRaw === null ? undefined : parsePositiveInt('_page', cursorRaw, 0, Number.MAX_SAFE_INTEGER);
    const sinceRaw = req.query.get('_since');
    const since = sinceRaw === null ? undefined : new Date(sinceRaw);
    if (since && Number.isNaN(since.getTime())) {
      throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: '_since must be an instant' }] });
    }
    const page = await this.#vault.history(req.principal, req.ctx, {
      ...(req.resourceType ? { resourceType: req.resourceType } : {}),
      ...(req.id ? { id: req.id } : {}),
      count,
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
      ...(since ? { since } : {}),
    });
    return { status: 200, headers: {}, body: withRedisclosureNotice(this.#historyBundle(req, page, count, sinceRaw)) };
  }

  #historyBundle(req: FhirRequest, page: HistoryPage, count: number, since: string | null): Record<string, unknown> {
    const path = [this.#baseUrl, req.resourceType, req.id, '_history'].filter(Boolean).join('/');
    const params = (cursor?: number) => {
      const q = new URLSearchParams({ _count: String(count) });
      if (since) q.set('_since', since);
      if (cursor !== undefined) q.set('_page', String(cursor));
      return `${path}?${q}`;
    };
    const cursor = req.query.get('_page');
    return {
      resourceType: 'Bundle',
      type: 'history',
      link: [
        { relation: 'self', url: params(cursor === null ? undefined : Number(cursor)) },
        ...(page.nextCursor !== undefined ? [{ relation: 'next', url: params(page.nextCursor) }] : []),
      ],
      entry: page.entries.map((e) => ({
        fullUrl: `${this.#baseUrl}/${e.resourceType}/${e.id}`,
        ...(e.resource ? { resource: e.resource } : {}),
        request: {
          method: e.method,
          url: e.method === 'POST' ? e.resourceType : `${e.resourceType}/${e.id}`,
        },
        response: {
          status: e.method === 'DELETE' ? '204' : e.versionId === 1 ? '201' : '200',
          etag: etag(e.versionId),
          lastModified: e.lastUpdated.toISOString(),
        },
      })),
    };
  }

  #resourceResponse(found: VersionedResource, shape: Shaper): FhirResponse {
    const all = versionHeaders(this.#baseUrl, found.resource.resourceType, found.resource.id, found.versionId, found.lastUpdated);
    return {
      status: 200,
      headers: { etag: all.etag as string, 'last-modified': all['last-modified'] as string },
      body: shape(found.resource),
    };
  }

  #writeResponse(result: WriteResult, prefer: string | undefined): FhirResponse {
    const status = result.outcome === 'created' ? 201 : 200;
    const headers = versionHeaders(this.#baseUrl, result.resource.resourceType, result.resource.id, result.versionId, result.lastUpdated);
    switch (parsePrefer(prefer)) {
      case 'minimal':
        return { status, headers };
      case 'OperationOutcome':
        return { status, headers, body: informationOutcome(outcomeText(result)) };
      default:
        return { status, headers, body: result.resource };
    }
  }
}

function outcomeText(result: WriteResult): string {
  if (result.outcome === 'existing') return 'A resource matching the condition already exists; nothing was created.';
  return `${result.outcome === 'created' ? 'Created' : 'Updated'} ${result.resource.resourceType}/${result.resource.id} version ${result.versionId}.`;
}

function deleteResponse(result: DeleteResult): FhirResponse {
  if (result.outcome === 'deleted') {
    return {
      status: 200,
      headers: { etag: etag(result.versionId as number) },
      body: informationOutcome('Deleted; the previous versions remain in history.'),
    };
  }
  return { status: 204, headers: {} };
}

function typeOf(req: FhirRequest): string {
  if (!req.resourceType || !isResourceType(req.resourceType)) throw new WardError('WARD_UNKNOWN_TYPE');
  return req.resourceType;
}

function typeAndId(req: FhirRequest): { resourceType: string; id: string } {
  const resourceType = typeOf(req);
  if (!req.id) throw new WardError('WARD_INVALID_REQUEST');
  return { resourceType, id: req.id };
}

/** The parameters of a POST `_search` (application/x-www-form-urlencoded, R4 §3.1.1.3). */
function formBody(body: unknown): URLSearchParams {
  return typeof body === 'string' ? new URLSearchParams(body) : new URLSearchParams();
}

/** Criteria of a conditional write: the search criteria, refused when empty (which would match everything). */
function conditionFrom(resourceType: string, query: URLSearchParams): ConditionalCriteria {
  return parseConditional(resourceType, query, new Date());
}

/** At most this many operations in one JSON Patch. */
const MAX_PATCH_OPERATIONS = 100;

/**
 * Applies RFC 6902 operations one by one, bounded: at most 100 operations; copy/move into its own
 * source is refused; and the document may not grow past `maxBytes` (each add, replace, test or
 * copy counts the size of the value it brings), so a few `copy` operations cannot double the
 * document until memory runs out.
 */
function applyJsonPatch(current: FhirResource, operations: unknown[], maxBytes: number): unknown {
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw new WardError('WARD_INVALID_PATCH', {
      details: [{ diagnostics: `A patch may hold at most ${MAX_PATCH_OPERATIONS} operations` }],
    });
  }
  let document: unknown = structuredClone(current);
  let size = JSON.stringify(current).length;
  operations.forEach((raw, index) => {
    const op = raw as jsonPatch.Operation & { from?: unknown; value?: unknown };
    try {
      if (
        (op.op === 'copy' || op.op === 'move') &&
        typeof op.from === 'string' &&
        (op.path === op.from || op.path?.startsWith(`${op.from}/`))
      ) {
        throw new WardError('WARD_INVALID_PATCH', {
          details: [{ diagnostics: `JSON Patch operation ${index} copies or moves a value into itself` }],
        });
      }
      const brought =
        op.op === 'copy' && typeof op.from === 'string'
          ? jsonPatch.getValueByPointer(document, op.from)
          : 'value' in op
            ? op.value
            : undefined;
      size += brought === undefined ? 0 : JSON.stringify(brought).length;
      if (size > maxBytes)
        throw new WardError('WARD_BODY_TOO_LARGE', { details: [{ diagnostics: 'The patched resource would exceed the size limit' }] });
      document = jsonPatch.applyOperation(document, op, true, true, true, index).newDocument;
    } catch (e) {
      if (isWardError(e)) throw e;
      const name = (e as { name?: string }).name ?? 'error';
      throw new WardError('WARD_INVALID_PATCH', { details: [{ diagnostics: `JSON Patch ${name} at operation ${index}` }], cause: e });
    }
  });
  return document;
}
