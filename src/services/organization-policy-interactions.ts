import { isFhirId, WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { checkParameters, type OrganizationPolicyView, type RequestContext, type Vault } from '../vault/index.js';
import type { FhirResponse } from './fhir-request.js';
import { etag } from './http-semantics.js';

/** A request to the organization policy API, without HTTP types. */
export interface OrganizationPolicyRequest {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  /** The Organization's id (the override is for `Organization/<id>`). */
  readonly id: string;
  readonly query: URLSearchParams;
  readonly body?: unknown;
  readonly ifMatch?: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * `/admin/organizations/{id}/policy` (issue 6 §1, ADR 0015): an organization's policy override —
 * the current version, every past version, and a change that names the version it replaces.
 */
export class OrganizationPolicyInteractions {
  readonly #vault: Vault;

  constructor(vault: Vault) {
    this.#vault = vault;
  }

  /** `GET …/policy` → the current version, its ETag naming it. */
  async current(req: OrganizationPolicyRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const view = await this.#vault.organizationPolicy.current(req.principal, req.ctx, organizationOf(req.id));
    return { status: 200, headers: { 'content-type': JSON_TYPE, etag: etag(view.version) }, body: view };
  }

  /** `GET …/policy/_history` → every version, newest first. */
  async history(req: OrganizationPolicyRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const versions = await this.#vault.organizationPolicy.history(req.principal, req.ctx, organizationOf(req.id));
    return { status: 200, headers: { 'content-type': JSON_TYPE }, body: { versions } };
  }

  /** `PUT …/policy` with `If-Match: W/"<version replaced>"` (W/"0" for the first) and the override document. */
  async change(req: OrganizationPolicyRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const view: OrganizationPolicyView = await this.#vault.organizationPolicy.change(
      req.principal,
      req.ctx,
      organizationOf(req.id),
      req.body,
      versionOf(req.ifMatch),
    );
    return { status: view.version === 1 ? 201 : 200, headers: { 'content-type': JSON_TYPE, etag: etag(view.version) }, body: view };
  }
}

function organizationOf(id: string): string {
  if (!isFhirId(id)) throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'The organization id is not a FHIR id' }] });
  return `Organization/${id}`;
}

/** `W/"3"` or `"3"` → 3; anything else can match no version (NaN), which the vault refuses after authorization. */
function versionOf(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header);
  return m ? Number(m[1]) : Number.NaN;
}
