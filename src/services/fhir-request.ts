import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';

/** A FHIR interaction without HTTP types: the edge, batch entries and the CLI all build one. */
export interface FhirRequest {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  readonly resourceType?: string;
  readonly id?: string;
  readonly versionId?: string;
  /** Compartment search: the type searched inside `Patient/{id}`. */
  readonly compartmentType?: string;
  readonly query: URLSearchParams;
  readonly body?: unknown;
  readonly ifMatch?: string;
  readonly ifNoneExist?: string;
  readonly prefer?: string;
  /** A create's id chosen before it runs (a transaction Bundle, so entries can refer to it); never from the edge. */
  readonly assignedId?: string;
}

export interface FhirResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers: Readonly<Record<string, string>>;
}
