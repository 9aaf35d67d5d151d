import { AuditUnavailableError } from '../audit/index.js';
import { categoriesOf, type FhirResource, isPlainObject, isWardError, snapshotJson, validateResource, WardError } from '../fhir/index.js';
import { authorsOf, decide, type PolicyAction, type PolicyTarget, type Principal, type SecurityLabel } from '../policy/index.js';
import { type StoredVersion, WriteConflictError } from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';

/**
 * AuditEvent is the audit log's own view, served read-only from the log (170.315(d)(2)(iv)): it
 * is never stored, read or searched as a resource, whatever a route or a role allows.
 */
export const LOG_VIEW_TYPE = 'AuditEvent';

/** Decides on the type before any data is touched; an unknown type is 404, a refusal 403. */
export function decideOnType(op: OperationRecord, action: PolicyAction): void {
  if (op.unknownType) throw new WardError('WARD_UNKNOWN_TYPE');
  if (op.resourceType === LOG_VIEW_TYPE) {
    throw new WardError('WARD_METHOD_NOT_ALLOWED', { details: [{ diagnostics: 'AuditEvent is served read-only from the audit log' }] });
  }
  const decision = decide(op.principal as Principal, action, op.resourceType ? { resourceType: op.resourceType } : {}, op.typeFacts);
  op.decision = decision;
  if (decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
}

/**
 * What policy decides a stored row on. With its opened content, the target also carries the
 * stored `meta.security` labels and the categories (both sealed in the body); a tombstone has
 * neither.
 */
export function targetOf(row: StoredVersion, content?: FhirResource | 'tombstone'): PolicyTarget {
  const target = { resourceType: row.resourceType, id: row.id, patients: row.patients };
  if (content === undefined) return target;
  if (content === 'tombstone') return { ...target, security: [], categories: [] };
  return { ...target, security: securityOf(content), categories: categoriesOf(content), authors: authorsOf(content) };
}

/** The well-formed `meta.security` codings of a resource. */
export function securityOf(resource: FhirResource): SecurityLabel[] {
  const security = isPlainObject(resource.meta) ? resource.meta.security : undefined;
  if (!Array.isArray(security)) return [];
  return security.flatMap((c) =>
    isPlainObject(c) && typeof c.system === 'string' && typeof c.code === 'string' ? [{ system: c.system, code: c.code }] : [],
  );
}

/** Snapshot the untrusted body, then validate the snapshot: what policy sees is what is stored. */
export function checkBody(body: unknown, resourceType: string): FhirResource & { id?: string } {
  if (!isPlainObject(body)) throw new WardError('WARD_INVALID_RESOURCE', { details: [{ diagnostics: 'The body must be a JSON object' }] });
  const snapshot = snapshotJson(body) as FhirResource;
  const issues = validateResource(snapshot, resourceType);
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) {
    throw new WardError('WARD_INVALID_RESOURCE', {
      details: errors.map((i) => ({ severity: i.severity, code: i.code, expression: i.expression, diagnostics: i.diagnostics })),
    });
  }
  return snapshot as FhirResource & { id?: string };
}

/** Any failure to store an audit entry is a 503: the request is not performed and nothing leaves. */
export function asWardError(e: unknown): WardError {
  if (isWardError(e)) return e;
  if (e instanceof AuditUnavailableError) return new WardError('WARD_AUDIT_UNAVAILABLE', { cause: e });
  return new WardError('WARD_AUDIT_UNAVAILABLE', { cause: e });
}

/** Lost a race with another writer of the same resource: nothing was stored. */
export function isLostRace(e: unknown): boolean {
  return e instanceof WriteConflictError || (e as { code?: string } | null)?.code === '23505';
}
