import { isResourceType } from './definitions.js';
import { WardError } from './errors.js';
import { snapshotJson } from './json-snapshot.js';
import { type FhirResource, isFhirId, isPlainObject } from './resource.js';

export type BundleKind = 'transaction' | 'batch';
export type EntryMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What an entry's `request.url` names: a type, an instance, a version, or a type with a condition or search. */
export interface EntryTarget {
  readonly resourceType: string;
  readonly id?: string;
  readonly versionId?: string;
  readonly query: URLSearchParams;
}

/** One entry of a transaction or batch, checked for shape; its resource is a snapshot of the input. */
export interface BundleEntryRequest {
  /** Position in the Bundle as sent: responses keep this order, and errors name it. */
  readonly index: number;
  readonly method: EntryMethod;
  readonly target: EntryTarget;
  readonly fullUrl?: string;
  readonly resource?: FhirResource & { id?: string };
  readonly ifNoneExist?: string;
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
}

/** A Bundle accepted for processing, or for a batch, the entries that could not even be read. */
export interface BundleRequest {
  readonly kind: BundleKind;
  readonly entries: readonly (BundleEntryRequest | { readonly index: number; readonly error: WardError })[];
}

const METHODS: readonly EntryMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** At most this many entries per Bundle: each is a vault operation inside one request. */
export const MAX_BUNDLE_ENTRIES = 10_000;

const invalidBundle = (diagnostics: string, expression?: string) =>
  new WardError('WARD_INVALID_BUNDLE', { details: [{ diagnostics, ...(expression ? { expression } : {}) }] });

/**
 * Reads a transaction or batch Bundle (R4 §3.1.0.11). The Bundle itself must be sound; an entry
 * that is not fails the whole transaction, or only itself in a batch. Diagnostics name paths and
 * positions, never values: a URL or a fullUrl could carry an identifier.
 */
export function parseBundle(body: unknown, baseUrl: string): BundleRequest {
  if (!isPlainObject(body) || body.resourceType !== 'Bundle') throw invalidBundle('The body must be a Bundle resource');
  if (body.type !== 'transaction' && body.type !== 'batch') {
    throw invalidBundle('Bundle.type must be transaction or batch', 'Bundle.type');
  }
  const kind: BundleKind = body.type;
  const raw = body.entry ?? [];
  if (!Array.isArray(raw)) throw invalidBundle('Bundle.entry must be an array', 'Bundle.entry');
  if (raw.length > MAX_BUNDLE_ENTRIES) throw invalidBundle(`A Bundle may hold at most ${MAX_BUNDLE_ENTRIES} entries`, 'Bundle.entry');
  const entries = raw.map((entry: unknown, index: number) => {
    try {
      return parseEntry(entry, index, baseUrl);
    } catch (e) {
      if (kind === 'transaction' || !(e instanceof WardError)) throw e;
      return { index, error: e };
    }
  });
  if (kind === 'transaction') {
    const seen = new Set<string>();
    for (const e of entries as BundleEntryRequest[]) {
      if (e.fullUrl === undefined) continue;
      if (seen.has(e.fullUrl))
        throw invalidBundle(`Bundle.entry[${e.index}].fullUrl repeats an earlier entry's`, `Bundle.entry[${e.index}].fullUrl`);
      seen.add(e.fullUrl);
    }
  }
  return { kind, entries };
}

function parseEntry(entry: unknown, index: number, baseUrl: string): BundleEntryRequest {
  const at = `Bundle.entry[${index}]`;
  if (!isPlainObject(entry)) throw invalidBundle(`${at} must be an object`, at);
  const request = entry.request;
  if (!isPlainObject(request)) throw invalidBundle(`${at}.request is required`, `${at}.request`);
  const method = request.method;
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
    throw invalidBundle(`${at}.request.method must be one of ${METHODS.join(', ')}`, `${at}.request.method`);
  }
  if (typeof request.url !== 'string' || request.url.length === 0)
    throw invalidBundle(`${at}.request.url is required`, `${at}.request.url`);
  const target = parseUrl(request.url, baseUrl, `${at}.request.url`);
  const m = method as EntryMethod;
  const resource = entry.resource;
  if (m === 'POST' || m === 'PUT' || m === 'PATCH') {
    if (!isPlainObject(resource)) throw invalidBundle(`${at}.resource is required for ${m}`, `${at}.resource`);
  } else if (resource !== undefined) {
    throw invalidBundle(`${at}.resource is not allowed for ${m}`, `${at}.resource`);
  }
  const shapeOk =
    m === 'POST'
      ? target.id === undefined && [...target.query].length === 0
      : m === 'PUT' || m === 'DELETE'
        ? target.versionId === undefined && (target.id !== undefined || [...target.query].length > 0)
        : m === 'PATCH'
          ? target.id !== undefined && target.versionId === undefined
          : true;
  if (!shapeOk) throw invalidBundle(`${at}.request.url does not fit ${m}`, `${at}.request.url`);
  const text = (name: string): string | undefined => {
    const v = request[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidBundle(`${at}.request.${name} must be a string`, `${at}.request.${name}`);
    return v;
  };
  if (entry.fullUrl !== undefined && typeof entry.fullUrl !== 'string')
    throw invalidBundle(`${at}.fullUrl must be a string`, `${at}.fullUrl`);
  const ifNoneExist = text('ifNoneExist');
  const ifMatch = text('ifMatch');
  const ifNoneMatch = text('ifNoneMatch');
  return {
    index,
    method: m,
    target,
    ...(typeof entry.fullUrl === 'string' ? { fullUrl: entry.fullUrl } : {}),
    // Snapshot: what is checked and written is what was read, whatever else holds the input.
    ...(isPlainObject(resource) ? { resource: snapshotJson(resource) as FhirResource & { id?: string } } : {}),
    ...(ifNoneExist !== undefined ? { ifNoneExist } : {}),
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}),
  };
}

/** `Type`, `Type/id`, `Type/id/_history/vid`, `Type?query`, relative or under this server's base. */
function parseUrl(url: string, baseUrl: string, expression: string): EntryTarget {
  const base = `${baseUrl.replace(/\/$/, '')}/`;
  const relative = url.startsWith(base) ? url.slice(base.length) : url;
  const q = relative.indexOf('?');
  const path = q < 0 ? relative : relative.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : relative.slice(q + 1));
  const parts = path.split('/');
  const [resourceType = '', id, history, versionId] = parts;
  const ok =
    isResourceType(resourceType) &&
    (parts.length === 1 ||
      (parts.length === 2 && id !== undefined && isFhirId(id)) ||
      (parts.length === 4 && id !== undefined && isFhirId(id) && history === '_history' && /^\d{1,9}$/.test(versionId ?? '')));
  if (!ok) throw invalidBundle('request.url must be Type, Type/id, Type/id/_history/vid or Type?criteria on this server', expression);
  if (id !== undefined && [...query].length > 0 && parts.length !== 2)
    throw invalidBundle('request.url mixes an id and criteria', expression);
  return { resourceType, ...(id !== undefined ? { id } : {}), ...(versionId !== undefined ? { versionId } : {}), query };
}

/** R4 §3.1.0.11.2: a transaction processes DELETE, then POST, then PUT and PATCH, then GET. */
export const PROCESSING_RANK: Readonly<Record<EntryMethod, number>> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };

/** Every `reference` string in a resource, at any depth (contained resources and nested elements included). */
export function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) referencesIn(v, out);
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else referencesIn(v, out);
    }
  }
  return out;
}

/** Replaces each `reference` the map knows, at any depth, in place. */
export function replaceReferences(value: unknown, resolved: ReadonlyMap<string, string>): void {
  if (Array.isArray(value)) {
    for (const v of value) replaceReferences(v, resolved);
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') {
        const to = resolved.get(v);
        if (to !== undefined) value[k] = to;
      } else replaceReferences(v, resolved);
    }
  }
}

/** A conditional reference (`Patient?identifier=…`): its type and criteria, or undefined if the string is not one. */
export function conditionalReference(reference: string): { resourceType: string; query: URLSearchParams } | undefined {
  const q = reference.indexOf('?');
  if (q <= 0) return undefined;
  const resourceType = reference.slice(0, q);
  if (!isResourceType(resourceType)) return undefined;
  return { resourceType, query: new URLSearchParams(reference.slice(q + 1)) };
}

/** A reference to another entry of the Bundle by its temporary identifier. */
export function isTemporaryReference(reference: string): boolean {
  return reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:');
}
