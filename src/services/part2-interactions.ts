import { WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { checkParameters, parseWindow, patientIdOf, type RequestContext, type Vault } from '../vault/index.js';
import type { FhirResponse } from './fhir-request.js';

/** A request to a Part 2 report, without HTTP types (the auditor API's request shape). */
export interface Part2Request {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  readonly query: URLSearchParams;
}

const REPORT_JSON = 'application/json; charset=utf-8';

/** The 42 CFR Part 2 reports of the auditor API, without HTTP types (ADR 0016). */
export class Part2Interactions {
  readonly #vault: Vault;

  constructor(vault: Vault) {
    this.#vault = vault;
  }

  /**
   * `GET /admin/audit/part2-disclosures?patient=&from=&to=`: the accounting of the patient's Part 2
   * consented disclosures over the last 3 years (§2.25, §2.24), in the form of the 164.528
   * accounting beside it; privacy officers only.
   */
  async accounting(req: Part2Request): Promise<FhirResponse> {
    checkParameters(req.query, ['patient', 'from', 'to']);
    const patient = req.query.get('patient');
    if (patient === null) throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'Parameter patient is required' }] });
    const window = parseWindow(req.query.get('from'), req.query.get('to'));
    const accounting = await this.#vault.part2.accounting(req.principal, req.ctx, patientIdOf(patient), window);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: accounting };
  }
}
