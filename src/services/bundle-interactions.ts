import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  type BundleEntryRequest,
  conditionalReference,
  isTemporaryReference,
  isWardError,
  outcomeForError,
  PROCESSING_RANK,
  parseBundle,
  parseConditional,
  referencesIn,
  replaceReferences,
  WardError,
} from '../fhir/index.js';
import { policyFactTypesFor, type Vault } from '../vault/index.js';
import { FhirInteractions } from './fhir-interactions.js';
import type { FhirRequest, FhirResponse } from './fhir-request.js';

/** One entry of a transaction-response or batch-response Bundle. */
interface ResponseEntry {
  readonly fullUrl?: string;
  readonly resource?: unknown;
  readonly response: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: unknown };
}

/**
 * Transaction and batch Bundles (R4 §3.1.0.11), entry by entry through the same interactions as
 * single requests, so each entry is decided by policy and audited on its own. A transaction runs
 * in one vault transaction (all or nothing); a batch runs each entry independently.
 */
export class BundleInteractions {
  readonly #vault: Vault;
  readonly #baseUrl: string;
  readonly #options: { maxResourceBytes: number };
  readonly #fhir: FhirInteractions;

  constructor(vault: Vault, baseUrl: string, options: { maxResourceBytes: number }) {
    this.#vault = vault;
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    this.#options = options;
    this.#fhir = new FhirInteractions(vault, baseUrl, options);
  }

  /** `POST [base]` with a transaction or batch Bundle. */
  async process(req: Pick<FhirRequest, 'principal' | 'ctx' | 'body' | 'prefer'>): Promise<FhirResponse> {
    const bundle = parseBundle(req.body, this.#baseUrl);
    if (bundle.kind === 'transaction') {
      const entries = bundle.entries as BundleEntryRequest[];
      const responses = await this.#vault.transaction(
        req.principal,
        req.ctx,
        (scoped, progress) => this.#transaction(scoped, req, entries, progress),
        (r) => ({ entries: String(r.length) }),
      );
      return { status: 200, headers: {}, body: { resourceType: 'Bundle', type: 'transaction-response', entry: responses } };
    }
    const responses: ResponseEntry[] = [];
    let failed = 0;
    for (const entry of bundle.entries) {
      try {
        if ('error' in entry) throw entry.error;
        responses.push(await this.#batchEntry(req, entry));
      } catch (e) {
        if (!isWardError(e)) throw e;
        failed++;
        responses.push({ response: { status: statusLine(e.status), outcome: outcomeForError(e.code, e.details) } });
      }
    }
    await this.#vault.recordAdministrative(req.principal, req.ctx, 'batch', {
      status: 200,
      detail: { entries: String(bundle.entries.length), failed: String(failed) },
    });
    return { status: 200, headers: {}, body: { resourceType: 'Bundle', type: 'batch-response', entry: responses } };
  }

  /** A batch entry: on its own, so it may not refer to another entry; conditional references are resolved. */
  async #batchEntry(req: Pick<FhirRequest, 'principal' | 'ctx' | 'prefer'>, entry: BundleEntryRequest): Promise<ResponseEntry> {
    const resolved = new Map<string, string>();
    for (const ref of referencesIn(entry.resource)) {
      if (isTemporaryReference(ref)) {
        throw new WardError('WARD_INVALID_BUNDLE', {
          details: [
            { diagnostics: 'A batch entry may not refer to another entry; use a transaction', expression: `Bundle.entry[${entry.index}]` },
          ],
        });
      }
      await this.#resolveConditional(this.#vault, req, ref, resolved);
    }
    replaceReferences(entry.resource, resolved);
    return this.#run(this.#fhir, req, entry, {});
  }

  async #transaction(
    vault: Vault,
    req: Pick<FhirRequest, 'principal' | 'ctx' | 'prefer'>,
    entries: BundleEntryRequest[],
    progress: { entry?: number },
  ): Promise<ResponseEntry[]> {
    const fhir = new FhirInteractions(vault, this.#baseUrl, this.#options);
    const at = (e: BundleEntryRequest) => `Bundle.entry[${e.index}]`;
    const fail = (e: BundleEntryRequest, error: unknown): never => {
      if (!isWardError(error)) throw error;
      throw new WardError(error.code, {
        details: [{ diagnostics: `${at(e)} failed; nothing in the transaction was applied`, expression: at(e) }, ...error.details],
        cause: error,
      });
    };
    // 1. Ids for what will be created, so that entries can refer to each other whatever the order.
    const resolved = new Map<string, string>();
    const assigned = new Map<number, string>();
    const conditionalCreates = new Map<string, BundleEntryRequest>();
    for (const e of entries) {
      const type = e.target.resourceType;
      if (e.method === 'POST' && e.ifNoneExist === undefined) {
        const id = randomUUID();
        assigned.set(e.index, id);
        if (e.fullUrl) resolved.set(e.fullUrl, `${type}/${id}`);
      } else if (e.method === 'POST' && e.fullUrl) {
        conditionalCreates.set(e.fullUrl, e);
      } else if (e.method === 'PUT' && e.fullUrl && e.target.id !== undefined) {
        resolved.set(e.fullUrl, `${type}/${e.target.id}`);
      }
    }
    // 2. Conditional references, and the target of a conditional update another entry refers to.
    for (const e of entries) {
      progress.entry = e.index;
      try {
        for (const ref of referencesIn(e.resource)) await this.#resolveConditional(vault, req, ref, resolved);
        if (e.method === 'PUT' && e.target.id === undefined && e.fullUrl && isReferenced(entries, e.fullUrl)) {
          const condition = parseConditional(e.target.resourceType, e.target.query, new Date());
          const id = (await vault.matchCondition(req.principal, req.ctx, e.target.resourceType, condition)) ?? randomUUID();
          assigned.set(e.index, id);
          resolved.set(e.fullUrl, `${e.target.resourceType}/${id}`);
        }
      } catch (error) {
        fail(e, error);
      }
    }
    // 3. R4 order: DELETE, POST (conditional creates first, each after those it refers to), PUT/PATCH, GET.
    // Updates by id that cannot change policy facts are committed together (batchable), in runs.
    const order = orderEntries(entries, conditionalCreates);
    const responses: ResponseEntry[] = new Array(entries.length);
    const factTypes = policyFactTypesFor(req.principal);
    const run: BundleEntryRequest[] = [];
    // The resources of the run so far (`Type/id`): a run updates each once.
    const inRun = new Set<string>();
    const flush = async () => {
      const group = run.splice(0);
      inRun.clear();
      let k = 0;
      try {
        const results = await fhir.updateMany(
          group.map((e) => ({ ...this.#request(req, e, {}), body: e.resource })),
          (i) => {
            k = i;
            progress.entry = group[i]?.index;
          },
        );
        results.forEach((r, i) => {
          responses[(group[i] as BundleEntryRequest).index] = this.#entryOf(r);
        });
      } catch (error) {
        fail(group[k] as BundleEntryRequest, error);
      }
    };
    for (const e of order) {
      progress.entry = e.index;
      try {
        if (e.resource) {
          for (const ref of referencesIn(e.resource)) {
            if (isTemporaryReference(ref) && !resolved.has(ref)) {
              throw new WardError('WARD_INVALID_BUNDLE', {
                details: [{ diagnostics: 'A reference names a urn:uuid that no entry of the Bundle has', expression: at(e) }],
              });
            }
          }
          replaceReferences(e.resource, resolved);
        }
      } catch (error) {
        fail(e, error);
      }
      if (batchable(e, factTypes)) {
        const key = `${e.target.resourceType}/${e.target.id}`;
        if (inRun.has(key)) await flush();
        run.push(e);
        inRun.add(key);
        if (run.length >= UPDATE_RUN_MAX) await flush();
        continue;
      }
      await flush();
      progress.entry = e.index;
      try {
        const response = await this.#run(fhir, req, e, { assignedId: assigned.get(e.index), resolved });
        responses[e.index] = response;
        if (e.fullUrl && response.fullUrl && !resolved.has(e.fullUrl)) resolved.set(e.fullUrl, relativeOf(response.fullUrl, this.#baseUrl));
      } catch (error) {
        fail(e, error);
      }
    }
    await flush();
    delete progress.entry;
    return responses;
  }

  /** Resolves a conditional reference (`Patient?identifier=…`) to the one visible match: 412 for none or several. */
  async #resolveConditional(
    vault: Vault,
    req: Pick<FhirRequest, 'principal' | 'ctx'>,
    ref: string,
    resolved: Map<string, string>,
  ): Promise<void> {
    const conditional = conditionalReference(ref);
    if (!conditional || resolved.has(ref)) return;
    const condition = parseConditional(conditional.resourceType, conditional.query, new Date());
    const id = await vault.matchCondition(req.principal, req.ctx, conditional.resourceType, condition);
    if (id === undefined) throw new WardError('WARD_CONDITION_NO_MATCH');
    resolved.set(ref, `${conditional.resourceType}/${id}`);
  }

  /** Runs one entry as the single interaction it names, and shapes its response entry. */
  async #run(
    fhir: FhirInteractions,
    base: Pick<FhirRequest, 'principal' | 'ctx' | 'prefer'>,
    e: BundleEntryRequest,
    options: { assignedId?: string | undefined; resolved?: ReadonlyMap<string, string> },
  ): Promise<ResponseEntry> {
    const req = this.#request(base, e, options);
    const { id, versionId } = e.target;
    let response: FhirResponse;
    switch (e.method) {
      case 'GET':
        response = await (versionId !== undefined ? fhir.vread(req) : id !== undefined ? fhir.read(req) : fhir.search(req));
        if (e.ifNoneMatch !== undefined && response.headers.etag !== undefined && sameEtag(e.ifNoneMatch, response.headers.etag)) {
          return { response: { status: statusLine(304), etag: response.headers.etag } };
        }
        break;
      case 'POST':
        response = await fhir.create({ ...req, body: e.resource, ...(options.assignedId ? { assignedId: options.assignedId } : {}) });
        break;
      case 'PUT': {
        // A conditional update another entry refers to gets the id chosen for it here: a server id, not a client's.
        response = await (id !== undefined
          ? fhir.update({ ...req, body: e.resource })
          : fhir.conditionalUpdate({ ...req, body: e.resource, ...(options.assignedId ? { assignedId: options.assignedId } : {}) }));
        break;
      }
      case 'PATCH':
        response = await fhir.patch({ ...req, body: jsonPatchOf(e) });
        break;
      case 'DELETE':
        response = await (id !== undefined ? fhir.delete(req) : fhir.conditionalDelete(req));
        break;
    }
    return this.#entryOf(response);
  }

  /** The single request an entry names. */
  #request(
    base: Pick<FhirRequest, 'principal' | 'ctx' | 'prefer'>,
    e: BundleEntryRequest,
    options: { resolved?: ReadonlyMap<string, string> },
  ): FhirRequest {
    const { resourceType, id, versionId } = e.target;
    const query = withResolved(e.target.query, options.resolved);
    return {
      principal: base.principal,
      ctx: base.ctx,
      resourceType,
      query,
      ...(id !== undefined ? { id } : {}),
      ...(versionId !== undefined ? { versionId } : {}),
      ...(e.ifMatch !== undefined ? { ifMatch: e.ifMatch } : {}),
      ...(e.ifNoneExist !== undefined ? { ifNoneExist: String(withResolved(new URLSearchParams(e.ifNoneExist), options.resolved)) } : {}),
      ...(base.prefer !== undefined ? { prefer: base.prefer } : {}),
    };
  }

  #entryOf(r: FhirResponse): ResponseEntry {
    const location = r.headers.location;
    const relative = location ? relativeOf(location, this.#baseUrl) : undefined;
    const fullUrl = relative ? `${this.#baseUrl}/${relative.split('/_history/')[0]}` : undefined;
    const lastModified = r.headers['last-modified'];
    return {
      ...(fullUrl ? { fullUrl } : {}),
      ...(r.body !== undefined ? { resource: r.body } : {}),
      response: {
        status: statusLine(r.status),
        ...(relative ? { location: relative } : {}),
        ...(r.headers.etag ? { etag: r.headers.etag } : {}),
        ...(lastModified ? { lastModified: new Date(lastModified).toISOString() } : {}),
      },
    };
  }
}

/** Updates per commit of a run of batchable entries: bounds the statement's size and memory. */
const UPDATE_RUN_MAX = 200;

/**
 * An entry that can share a commit with its neighbours (Vault.updateMany): an update by id
 * without If-Match, of a type whose writes do not change what policy decides on the principal's
 * other writes (`factTypes`, policyFactTypesFor).
 */
function batchable(e: BundleEntryRequest, factTypes: ReadonlySet<string>): boolean {
  return (
    e.method === 'PUT' &&
    e.target.id !== undefined &&
    e.ifMatch === undefined &&
    e.resource !== undefined &&
    [...e.target.query].length === 0 &&
    !factTypes.has(e.target.resourceType)
  );
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

function relativeOf(url: string, baseUrl: string): string {
  return url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url;
}

function sameEtag(a: string, b: string): boolean {
  const bare = (s: string) => s.trim().replace(/^W\//, '');
  return a.trim() === '*' || bare(a) === bare(b);
}

function isReferenced(entries: readonly BundleEntryRequest[], fullUrl: string): boolean {
  return entries.some((e) => referencesIn(e.resource).includes(fullUrl) || [...e.target.query.values()].includes(fullUrl));
}

/** urn:uuid values inside a condition or search (`Observation?subject=urn:uuid:…`) become the ids they resolved to. */
function withResolved(query: URLSearchParams, resolved: ReadonlyMap<string, string> | undefined): URLSearchParams {
  if (!resolved || resolved.size === 0) return query;
  return new URLSearchParams(
    [...query].map(([k, v]) => [
      k,
      v
        .split(',')
        .map((x) => resolved.get(x) ?? x)
        .join(','),
    ]),
  );
}

/**
 * The processing order: DELETE, POST, PUT/PATCH, GET (stable within each). Conditional creates go
 * first among the POSTs, each after the conditional creates it refers to, because only then is
 * its id known; a cycle among them cannot be resolved and is refused.
 */
function orderEntries(entries: readonly BundleEntryRequest[], conditional: ReadonlyMap<string, BundleEntryRequest>): BundleEntryRequest[] {
  const sorted: BundleEntryRequest[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (e: BundleEntryRequest) => {
    if (state.get(e.index) === 'done') return;
    if (state.get(e.index) === 'visiting') {
      throw new WardError('WARD_INVALID_BUNDLE', {
        details: [
          {
            diagnostics: 'Conditional creates refer to each other in a circle; their ids cannot be resolved',
            expression: `Bundle.entry[${e.index}]`,
          },
        ],
      });
    }
    state.set(e.index, 'visiting');
    const refs = [...referencesIn(e.resource), ...new URLSearchParams(e.ifNoneExist ?? '').values()];
    for (const ref of refs) {
      const target = conditional.get(ref);
      if (target) visit(target);
    }
    state.set(e.index, 'done');
    sorted.push(e);
  };
  for (const e of conditional.values()) visit(e);
  const rest = entries.filter((e) => !state.has(e.index));
  const byRank = (a: BundleEntryRequest, b: BundleEntryRequest) =>
    PROCESSING_RANK[a.method] - PROCESSING_RANK[b.method] || a.index - b.index;
  const deletes = rest.filter((e) => e.method === 'DELETE');
  return [...deletes, ...sorted, ...rest.filter((e) => e.method !== 'DELETE').sort(byRank)];
}

/** A PATCH entry carries its JSON Patch as a Binary (R4 §3.1.0.11.1). */
function jsonPatchOf(e: BundleEntryRequest): unknown {
  const r = e.resource as { resourceType?: string; contentType?: string; data?: string } | undefined;
  if (r?.resourceType !== 'Binary' || r.contentType !== 'application/json-patch+json' || typeof r.data !== 'string') {
    throw new WardError('WARD_INVALID_PATCH', {
      details: [
        { diagnostics: 'A PATCH entry carries a Binary of application/json-patch+json', expression: `Bundle.entry[${e.index}].resource` },
      ],
    });
  }
  try {
    return JSON.parse(Buffer.from(r.data, 'base64').toString('utf8'));
  } catch (cause) {
    throw new WardError('WARD_INVALID_PATCH', { details: [{ diagnostics: 'The Binary does not hold JSON' }], cause });
  }
}
