import { WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import {
  type AuditEventPage,
  auditSearchQuery,
  checkParameters,
  type ExportFormat,
  parseAuditSearch,
  parseExportFormat,
  parseWindow,
  patientIdOf,
  principalIdOf,
  type RequestContext,
  type SealerView,
  type Vault,
} from '../vault/index.js';
import { BreakGlassInteractions } from './break-glass-interactions.js';
import type { FhirResponse } from './fhir-request.js';
import { Part2Interactions } from './part2-interactions.js';
import { EXPLAIN_PARAMETERS, parseExplainRequest } from './policy-explain-request.js';

/** A request to the auditor API, without HTTP types. */
export interface AuditorRequest {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  readonly id?: string;
  readonly query: URLSearchParams;
  readonly body?: unknown;
}

/** A response whose body is produced while it is sent (exports of any size). */
export interface StreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly stream: AsyncIterable<string>;
}

const REPORT_JSON = 'application/json; charset=utf-8';

const EXPORT_TYPES: Readonly<Record<ExportFormat, { contentType: string; extension: string }>> = {
  ndjson: { contentType: 'application/fhir+ndjson', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  bundle: { contentType: 'application/fhir+json; charset=utf-8', extension: 'json' },
};

/**
 * The auditor API's use cases (issue 7): the audit log as read-only FHIR AuditEvent (search and
 * read), its export, the accounting of disclosures, and the access and failure reports. Every
 * other interaction on AuditEvent is refused with 405, and the refusal is audited.
 */
export class AuditorInteractions {
  readonly #vault: Vault;
  readonly #fhirBase: string;
  readonly #sealer: () => SealerView;
  readonly #reviewIntervalDays: number;
  /** Break-glass requests and their review queue (the privacy officers' other oversight duty). */
  readonly breakGlass: BreakGlassInteractions;
  /** The 42 CFR Part 2 accounting of consented disclosures, beside the 164.528 one. */
  readonly part2: Part2Interactions;

  constructor(vault: Vault, fhirBase: string, sealer: () => SealerView, options: { readonly reviewIntervalDays: number }) {
    this.#vault = vault;
    this.breakGlass = new BreakGlassInteractions(vault);
    this.part2 = new Part2Interactions(vault);
    this.#fhirBase = fhirBase.replace(/\/$/, '');
    this.#sealer = sealer;
    this.#reviewIntervalDays = options.reviewIntervalDays;
  }

  /** `GET /admin/audit/status`: tree size, newest signed head, sealing lag, last verification. */
  async status(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const status = await this.#vault.auditor.status(req.principal, req.ctx, this.#sealer(), this.#reviewIntervalDays);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: status };
  }

  /** `POST /admin/audit/reviews`: a privacy officer signs off a review of a period (164.308(a)(1)(ii)(D)). */
  async recordReview(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const review = await this.#vault.auditor.recordReview(req.principal, req.ctx, req.body);
    return { status: 201, headers: { 'content-type': REPORT_JSON }, body: review };
  }

  /** `GET /admin/audit/reviews`: the sign-offs and whether a review is overdue. */
  async reviews(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const report = await this.#vault.auditor.reviews(req.principal, req.ctx, this.#reviewIntervalDays);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: report };
  }

  /** Any write to audit status or configuration: refused, and audited (170.315(d)(2)(ii)–(iii)). */
  async refuseConfigChange(req: Pick<AuditorRequest, 'principal' | 'ctx'>): Promise<never> {
    return this.#vault.auditor.refuseConfigChange(req.principal, req.ctx);
  }

  /** `GET [base]/AuditEvent?…`: a searchset Bundle, paged over a snapshot of the log. */
  async search(req: AuditorRequest): Promise<FhirResponse> {
    const search = parseAuditSearch(req.query);
    const page = await this.#vault.auditor.search(req.principal, req.ctx, search);
    return { status: 200, headers: {}, body: this.#searchBundle(req.query, page, search.page) };
  }

  /** `GET [base]/AuditEvent/{id}`: one entry, by its sequence number. */
  async read(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, ['_format']);
    const event = await this.#vault.auditor.read(req.principal, req.ctx, req.id ?? '');
    return { status: 200, headers: {}, body: event };
  }

  /**
   * Any interaction that would change the log, or that AuditEvent does not support (history,
   * vread): 405, audited against AuditEvent (170.315(d)(2)(iv)).
   */
  async refuse(req: Pick<AuditorRequest, 'principal' | 'ctx' | 'id'>): Promise<never> {
    const error = new WardError('WARD_METHOD_NOT_ALLOWED', {
      details: [{ diagnostics: 'AuditEvent is read-only: the audit log supports read and search only' }],
    });
    await this.#vault.recordRequest(req.principal, req.ctx, {
      status: error.status,
      code: error.code,
      resourceType: 'AuditEvent',
      ...(req.id !== undefined ? { resourceId: req.id } : {}),
    });
    throw error;
  }

  /** `GET /admin/audit/export?from=&to=&format=ndjson|csv|bundle`. */
  async exportLog(req: AuditorRequest): Promise<StreamResponse> {
    checkParameters(req.query, ['from', 'to', 'format']);
    const format = parseExportFormat(req.query.get('format'));
    const window = parseWindow(req.query.get('from'), req.query.get('to'));
    const stream = await this.#vault.auditor.export(req.principal, req.ctx, window, format, this.#fhirBase);
    const type = EXPORT_TYPES[format];
    return {
      status: 200,
      headers: { 'content-type': type.contentType, 'content-disposition': `attachment; filename="ward-audit.${type.extension}"` },
      stream,
    };
  }

  /**
   * `GET /admin/policy/explain?principal=&role=&action=&target=`: the decision the policy would
   * make and the rules behind it, with no resource data (issue 6 §6); privacy officers only.
   */
  async explainPolicy(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, EXPLAIN_PARAMETERS);
    const request = parseExplainRequest(req.query);
    const { policyVersion, decision, reasons } = await this.#vault.explainAccess(req.principal, req.ctx, request);
    return {
      status: 200,
      headers: { 'content-type': REPORT_JSON },
      body: {
        policyVersion,
        principal: request.subject.id,
        roles: request.subject.roles,
        action: request.action,
        target: `${request.resourceType}/${request.id}`,
        effect: decision.effect,
        reasons,
        ...(decision.effect === 'permit'
          ? { obligations: decision.obligations.map((o) => (o.kind === 'mask' ? { kind: o.kind, rule: o.rule } : { kind: o.kind })) }
          : {}),
        ...(decision.effect === 'permit' && decision.breakGlass ? { breakGlass: decision.breakGlass } : {}),
      },
    };
  }

  /** `GET /admin/audit/disclosures?patient=&from=&to=`: the accounting of disclosures (45 CFR 164.528). */
  async disclosures(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, ['patient', 'from', 'to']);
    const patient = req.query.get('patient');
    if (patient === null) throw missing('patient');
    const window = parseWindow(req.query.get('from'), req.query.get('to'));
    const accounting = await this.#vault.auditor.disclosures(req.principal, req.ctx, patientIdOf(patient), window);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: accounting };
  }

  /** `POST /admin/audit/disclosures`: records a disclosure made outside Ward. */
  async recordDisclosure(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, []);
    const recorded = await this.#vault.auditor.recordDisclosure(req.principal, req.ctx, req.body);
    return { status: 201, headers: { 'content-type': REPORT_JSON }, body: recorded };
  }

  /** `GET /admin/audit/access-report?principal=&from=&to=`. */
  async accessReport(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, ['principal', 'from', 'to']);
    const principal = req.query.get('principal');
    if (principal === null) throw missing('principal');
    const window = parseWindow(req.query.get('from'), req.query.get('to'));
    const report = await this.#vault.auditor.accessReport(req.principal, req.ctx, principalIdOf('principal', principal), window);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: report };
  }

  /** `GET /admin/audit/failures?from=&to=`. */
  async failures(req: AuditorRequest): Promise<FhirResponse> {
    checkParameters(req.query, ['from', 'to']);
    const window = parseWindow(req.query.get('from'), req.query.get('to'));
    const report = await this.#vault.auditor.failures(req.principal, req.ctx, window);
    return { status: 200, headers: { 'content-type': REPORT_JSON }, body: report };
  }

  #searchBundle(query: URLSearchParams, page: AuditEventPage, current: { offset: number } | undefined): unknown {
    const url = (offset?: number) => {
      const q = auditSearchQuery(query, offset === undefined ? undefined : { snapshot: page.snapshot, offset });
      return `${this.#fhirBase}/AuditEvent${q ? `?${q}` : ''}`;
    };
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [
        { relation: 'self', url: url(current?.offset) },
        ...(page.nextOffset !== undefined ? [{ relation: 'next', url: url(page.nextOffset) }] : []),
      ],
      entry: page.events.map((event) => ({
        fullUrl: `${this.#fhirBase}/AuditEvent/${event.id}`,
        resource: event,
        search: { mode: 'match' },
      })),
    };
  }
}

function missing(name: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${name} is required` }] });
}
