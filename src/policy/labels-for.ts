import type { FhirResource } from '../fhir/index.js';
import { LABEL_RULES, ruleMatches } from './label-rules.js';
import {
  ACT_CODE_SYSTEM,
  CONFIDENTIALITY_SYSTEM,
  type Confidentiality,
  higherConfidentiality,
  type Labels,
  labelsOf,
  type SecurityLabel,
  type SensitivityCode,
  securityCodings,
} from './security-labels.js';

export interface LabelAssignment extends Labels {
  /** Ids of the rules that fired (empty when only explicit labels apply). */
  readonly rules: readonly string[];
}

/**
 * The labels a resource should carry: sensitivity from its codes (every Coding anywhere in it,
 * contained resources included, `meta` excluded), merged with what `meta.security` already says.
 * Explicit labels are never removed or lowered: an authorized user may label more than the rules
 * find, never less. Confidentiality is the highest of the explicit one and the derived one
 * (R when any sensitivity applies, V for psychotherapy notes); N when neither says anything.
 */
export function labelsFor(resource: FhirResource): LabelAssignment {
  const explicit = explicitSecurity(resource);
  const given = labelsOf(explicit);
  const hasExplicitConfidentiality = explicit.some((l) => l.system === CONFIDENTIALITY_SYSTEM);
  const sensitivity = new Set<SensitivityCode>(given.sensitivity);
  const rules = new Set<string>();
  for (const { system, code } of codingsOf(resource)) {
    for (const rule of LABEL_RULES) {
      if (!ruleMatches(rule, system, code)) continue;
      rules.add(rule.id);
      for (const label of rule.labels) sensitivity.add(label);
    }
  }
  const derived: Confidentiality | undefined = sensitivity.has('PSYTHPN') ? 'V' : sensitivity.size > 0 ? 'R' : undefined;
  const base: Confidentiality = hasExplicitConfidentiality ? given.confidentiality : 'N';
  return {
    confidentiality: derived ? higherConfidentiality(base, derived) : base,
    sensitivity: [...sensitivity].sort(),
    rules: [...rules].sort(),
  };
}

/**
 * The resource with its labels written into `meta.security` (a copy; codings of other systems and
 * other v3 codes are kept, the confidentiality and sensitivity codings are replaced by the merged set).
 * Unchanged when no rule fires and no label was set.
 */
export function withLabels<T extends FhirResource>(resource: T): T {
  const labels = labelsFor(resource);
  // Nothing sensitive and nothing explicit: N is the default, and the resource is stored as sent.
  if (labels.sensitivity.length === 0 && !explicitSecurity(resource).some((l) => l.system === CONFIDENTIALITY_SYSTEM)) return resource;
  const others = explicitSecurity(resource).filter(
    (l) =>
      l.system !== CONFIDENTIALITY_SYSTEM && !(l.system === ACT_CODE_SYSTEM && (labels.sensitivity as readonly string[]).includes(l.code)),
  );
  const meta = isObject(resource.meta) ? resource.meta : {};
  return { ...resource, meta: { ...meta, security: [...securityCodings(labels), ...others] } };
}

function explicitSecurity(resource: FhirResource): SecurityLabel[] {
  const meta = resource.meta;
  const security = isObject(meta) && Array.isArray(meta.security) ? meta.security : [];
  return security.flatMap((s: unknown) =>
    isObject(s) && typeof s.system === 'string' && typeof s.code === 'string' ? [{ ...s, system: s.system, code: s.code }] : [],
  );
}

/** Every object with a string `system` and `code` (Coding, and Quantity, whose systems no rule names). */
function codingsOf(resource: FhirResource): SecurityLabel[] {
  const out: SecurityLabel[] = [];
  const walk = (value: unknown, top: boolean): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, false);
      return;
    }
    if (!isObject(value)) return;
    if (typeof value.system === 'string' && typeof value.code === 'string') out.push({ system: value.system, code: value.code });
    for (const [key, child] of Object.entries(value)) {
      if (top && key === 'meta') continue;
      walk(child, false);
    }
  };
  walk(resource, true);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
