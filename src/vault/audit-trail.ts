import type { AuditAction, AuditEntry, RequestContext } from '../audit/index.js';
import { isWardError } from '../fhir/index.js';
import type { Decision, PolicyFacts, Principal } from '../policy/index.js';
import type { PendingWrite } from '../store/index.js';
import { type Part2Use, part2Detail } from './part2-disclosure.js';

/** What an operation learnt while it ran, enough to write its one audit entry. */
export interface OperationRecord {
  readonly principal: Principal | null;
  readonly ctx: RequestContext;
  readonly action: AuditAction;
  /** Only a known resource type; see unknownType. */
  resourceType?: string;
  /** The request named a type that does not exist (not recorded: it is client text). */
  unknownType?: boolean;
  resourceId?: string;
  versionId?: number;
  patients?: readonly string[];
  decision?: Decision;
  /**
   * What the type-level decision is made with: the policies of the principal's organizations
   * (ADR 0015), loaded before the operation's first step. Absent: the default policy.
   */
  typeFacts?: PolicyFacts;
  returned?: string[];
  detail?: Record<string, string>;
  /** Why, when it is not the principal's own purpose of use (a recorded disclosure's purpose). */
  purposeOfUse?: string;
  /** Break-glass grants whose use permitted something this operation returned or wrote (ids only). */
  breakGlass?: string[];
  /** Part 2 (ETH-labelled) resources this operation let out, and on what ground (42 CFR §2.25, §2.51). */
  part2?: Part2Use[];
  /** The version a write will commit together with this operation's audit entry. */
  pending?: PendingWrite | undefined;
}

/** Marks an operation as having used break-glass grants: its entry then names them, for the privacy officers' review. */
export function markBreakGlass(op: OperationRecord, decision: Decision | undefined): void {
  if (decision?.effect !== 'permit' || !decision.breakGlass) return;
  op.breakGlass = [...new Set([...(op.breakGlass ?? []), ...decision.breakGlass.grants])];
}

export function auditEntry(op: OperationRecord, time: Date, status: number, code?: string): AuditEntry {
  const p = op.principal;
  markBreakGlass(op, op.decision);
  const detail = {
    ...part2Detail(op.part2, p, time.toISOString()),
    ...op.detail,
    ...(op.patients && op.patients.length > 1 ? { patients: op.patients.join(' ') } : {}),
    ...(op.breakGlass?.length ? { breakGlass: op.breakGlass.join(' ') } : {}),
  };
  return {
    time: time.toISOString(),
    who: p
      ? {
          id: p.id,
          kind: p.kind,
          roles: p.roles,
          ...(p.clientId ? { clientId: p.clientId } : {}),
          ...(p.tokenId ? { tokenId: p.tokenId } : {}),
          scopes: [...p.scopes.resourceScopes.map((s) => s.text), ...p.scopes.other].join(' '),
        }
      : { id: 'anonymous', kind: 'anonymous', roles: [] },
    action: op.action,
    ...(op.resourceType ? { resourceType: op.resourceType } : {}),
    ...(op.resourceId ? { resourceId: op.resourceId } : {}),
    ...(op.versionId ? { versionId: op.versionId } : {}),
    ...(op.patients?.[0] ? { patientId: op.patients[0] } : {}),
    where: {
      requestId: op.ctx.requestId,
      listener: op.ctx.listener,
      ...(op.ctx.address ? { address: op.ctx.address } : {}),
      ...(op.ctx.userAgent ? { userAgent: op.ctx.userAgent.slice(0, 256) } : {}),
      ...(op.ctx.method ? { method: op.ctx.method } : {}),
      ...(op.ctx.route ? { route: op.ctx.route } : {}),
    },
    purposeOfUse: op.purposeOfUse ?? p?.purposeOfUse ?? 'none',
    decision: op.decision ? { effect: op.decision.effect, reasons: op.decision.reasons } : { effect: 'none', reasons: [] },
    outcome: { status, ...(code ? { code } : {}) },
    ...(op.returned ? { returned: op.returned } : {}),
    ...(op.detail || Object.keys(detail).length > 0 ? { detail } : {}),
  };
}

/** The status and code an error will be answered with, for its audit entry. */
export function statusOf(error: unknown): { status: number; code: string } {
  if (isWardError(error)) return { status: error.status, code: error.code };
  return { status: 500, code: 'WARD_INTERNAL' };
}
