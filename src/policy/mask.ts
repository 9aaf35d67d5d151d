import { applyElements, type FhirResource } from '../fhir/index.js';
import { OBSERVATION_VALUE_SYSTEM } from './security-labels.js';

/** The obligation to show a role only some elements of a resource (minimum necessary, 164.502(b) · 164.514(d)). */
export interface MaskObligation {
  readonly kind: 'mask';
  /** The policy rule that asks for it (`mask/billing/Encounter`). */
  readonly rule: string;
  /** Top-level elements kept besides id, meta and mandatory ones. */
  readonly keep: readonly string[];
}

const REDACTED = { system: OBSERVATION_VALUE_SYSTEM, code: 'REDACTED', display: 'redacted' } as const;

/**
 * The resource with only the allowed elements (a fresh copy). When anything was withheld, the copy
 * carries the SUBSETTED tag (as any FHIR subset does, so it is never written back as the whole
 * record) and the REDACTED security label (v3 integrity observation: withheld by policy).
 */
export function mask<T extends FhirResource>(resource: T, obligation: MaskObligation): T {
  const subset = applyElements(resource, obligation.keep);
  const removed = Object.keys(resource).some((k) => k !== 'resourceType' && !(k in subset));
  if (!removed) return subset;
  const meta = subset.meta ?? {};
  const security = Array.isArray(meta.security) ? meta.security : [];
  const present = security.some((s) => s.system === REDACTED.system && s.code === REDACTED.code);
  return { ...subset, meta: { ...meta, security: present ? security : [...security, { ...REDACTED }] } };
}
