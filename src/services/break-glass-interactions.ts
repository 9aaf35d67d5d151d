import { isPlainObject, WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { checkParameters, type RequestContext, type Vault } from '../vault/index.js';
import type { FhirResponse } from './fhir-request.js';

/** A request to the break-glass API, without HTTP types (the auditor API's request shape). */
export interface BreakGlassHttpRequest {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  readonly id?: string;
  readonly query: URLSearchParams;
  readonly body?: unknown;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const STATUSES = ['open', 'acknowledged', 'escalated'] as const;

/**
 * Break-glass (issue 6 §5) without HTTP types: a clinician's request for emergency access, and
 * the privacy officers' review queue (each grant is an alert until acknowledged or escalated).
 */
export class BreakGlassInteractions {
  readonly #vault: Vault;

  constructor(vault: Vault) {
    this.#vault = vault;
  }

  /** `POST /admin/break-glass` `{"patient", "reasonCode": "ETREAT"|"BTG", "justification", "minutes"?}` → 201 and the grant. */
  async request(req: BreakGlassHttpRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const body = isPlainObject(req.body) ? req.body : {};
    const grant = await this.#vault.breakGlass.request(req.principal, req.ctx, {
      patient: typeof body.patient === 'string' ? body.patient.replace(/^Patient\//, '') : '',
      reasonCode: typeof body.reasonCode === 'string' ? body.reasonCode : '',
      justification: typeof body.justification === 'string' ? body.justification : '',
      ...(body.minutes !== undefined ? { minutes: typeof body.minutes === 'number' ? body.minutes : Number.NaN } : {}),
    });
    return { status: 201, headers: { 'content-type': JSON_TYPE }, body: grant };
  }

  /** `GET /admin/break-glass/reviews[?status=open|acknowledged|escalated]`: privacy officers only. */
  async reviews(req: BreakGlassHttpRequest): Promise<FhirResponse> {
    checkParameters(req.query, ['status']);
    const status = req.query.get('status');
    if (status !== null && !(STATUSES as readonly string[]).includes(status))
      throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `status must be one of ${STATUSES.join(', ')}` }] });
    const grants = await this.#vault.breakGlass.reviews(
      req.principal,
      req.ctx,
      (status ?? undefined) as (typeof STATUSES)[number] | undefined,
    );
    return { status: 200, headers: { 'content-type': JSON_TYPE }, body: { grants } };
  }

  /** `POST /admin/break-glass/reviews/{id}` `{"outcome": "acknowledged"|"escalated"}`: once per grant. */
  async review(req: BreakGlassHttpRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const outcome = isPlainObject(req.body) ? req.body.outcome : undefined;
    if (outcome !== 'acknowledged' && outcome !== 'escalated')
      throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'outcome must be acknowledged or escalated' }] });
    const grant = await this.#vault.breakGlass.review(req.principal, req.ctx, req.id ?? '', outcome);
    return { status: 200, headers: { 'content-type': JSON_TYPE }, body: grant };
  }
}
