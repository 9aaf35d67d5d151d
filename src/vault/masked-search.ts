import { type Criterion, expressionFor, type SearchRequest, searchParameter, WardError } from '../fhir/index.js';
import type { MaskObligation } from '../policy/index.js';
import type { OperationRecord } from './audit-trail.js';

/** Parameters over `id` and `meta`, which every mask keeps. */
const ALWAYS_KEPT = new Set(['_id', '_lastUpdated', '_tag', '_profile', '_security', '_source']);

/**
 * Minimum necessary (164.502(b)) holds for search too: a role that sees a type masked (billing's
 * Encounter keeps class and period, not reasons or diagnoses) must not learn a hidden element by
 * searching on it — `Encounter?reason-code=F32.9` would tell which encounters were for depression
 * as surely as reading them. So a search or sort by a parameter whose FHIRPath reaches an element
 * the type decision's mask hides is refused (403), and the refusal names the parameter only. The
 * parameter's own elements are judged (a chain's `subject`, a `_has` source's reference); what a
 * chain or `_has` asks of the other type is decided there, row by row, by that type's policy.
 */
export function refuseSearchOnMaskedElements(op: OperationRecord, resourceType: string, request: SearchRequest): void {
  const decision = op.decision;
  if (decision?.effect !== 'permit') return;
  const masks = decision.obligations.filter((o): o is MaskObligation => o.kind === 'mask');
  if (masks.length === 0) return;
  const params = [...request.criteria.flatMap(paramOf), ...request.sort.flatMap((s) => ('param' in s.by ? [s.by.param] : []))];
  for (const param of params) {
    if (ALWAYS_KEPT.has(param)) continue;
    const elements = elementsOf(resourceType, param);
    const hidden = elements === undefined || elements.some((e) => !masks.every((m) => m.keep.includes(e)));
    if (!hidden) continue;
    op.decision = {
      effect: 'deny',
      reasons: [...masks.map((m) => `${m.rule}: searching by ${param} reaches elements the mask hides`)],
    };
    throw new WardError('WARD_POLICY_DENIED', {
      details: [{ diagnostics: `Searching by ${param} reaches elements your role does not see` }],
    });
  }
}

function paramOf(c: Criterion): string[] {
  switch (c.kind) {
    case 'id':
      return ['_id'];
    case 'lastUpdated':
      return ['_lastUpdated'];
    case 'has':
      return [];
    default:
      return [c.param];
  }
}

/** The top-level elements a parameter's FHIRPath starts from on this type, or undefined when that cannot be told. */
function elementsOf(resourceType: string, param: string): string[] | undefined {
  const definition = searchParameter(resourceType, param.split(':')[0] as string);
  const expression = definition ? expressionFor(definition, resourceType) : undefined;
  if (!expression) return undefined;
  const elements: string[] = [];
  for (const part of expression.split(/\s\|\s/)) {
    const m = new RegExp(`^\\(?${resourceType}\\.([a-zA-Z]+)`).exec(part.trim());
    if (!m?.[1]) return undefined;
    elements.push(m[1]);
  }
  return elements;
}
