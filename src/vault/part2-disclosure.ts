import { purposeOfUseDisplay } from '../audit/index.js';
import { type FhirResource, isPlainObject } from '../fhir/index.js';
import {
  ACT_CODE_SYSTEM,
  type Decision,
  isPart2,
  labelsOf,
  NO_REDISCLOSURE_CODE,
  type Part2ConsentUse,
  type Principal,
  REDISCLOSURE_NOTICE,
} from '../policy/index.js';
import type { StoredVersion } from '../store/index.js';
import { patientsOfRow } from './policy-facts.js';

/** `meta.extension` carrying the §2.32 notice on each Part 2 resource (and on a Bundle holding one). */
export const PART2_NOTICE_EXTENSION = 'https://ward.health/fhir/StructureDefinition/part2-redisclosure-notice';
/** `meta.extension` naming a Consent under which the resource was disclosed (§2.32(b): the consent or its scope). */
export const PART2_CONSENT_EXTENSION = 'https://ward.health/fhir/StructureDefinition/part2-consent';

/** The label form of the notice: v3 ActCode NORDSCLCDS. */
export const PART2_NOTICE_LABEL = { system: ACT_CODE_SYSTEM, code: NO_REDISCLOSURE_CODE } as const;

/** One Part 2 (ETH-labelled) resource an operation let out, and on what ground. */
export interface Part2Use {
  /** `Type/id`. */
  readonly resource: string;
  readonly patients: readonly string[];
  /** The Consents that unlocked it for the recipient (empty when the role or break-glass did). */
  readonly consents: readonly Part2ConsentUse[];
  /** Break-glass lifted its Part 2 label: a medical emergency (42 CFR §2.51). */
  readonly emergency?: { readonly grants: readonly string[]; readonly reasonCodes: readonly string[] };
}

/**
 * What leaves the vault of a Part 2 record (ADR 0016): each resource labelled ETH/SUD that a
 * principal other than the patient receives under a consent or under break-glass is noted on the
 * operation (its audit entry then carries the §2.25 or §2.51 fields) and carries the §2.32
 * redisclosure notice, the NORDSCLCDS obligation label and a reference to each Consent it was
 * disclosed under. Anything else is returned unchanged.
 */
export function discloseFromPart2(
  op: { readonly principal: Principal | null; part2?: Part2Use[] },
  row: StoredVersion,
  decision: Decision,
  resource: FhirResource,
): FhirResource {
  const principal = op.principal;
  if (decision.effect !== 'permit' || !principal || principal.kind === 'patient') return resource;
  if (!isPart2(labelsOf(securityCodings(resource)))) return resource;
  const consents = decision.part2Consents ?? [];
  const lifted = decision.breakGlass?.overrides.includes('label/ETH') ?? false;
  // A role that sees Part 2 data by policy (Ward's own services, the privacy officer) works inside the
  // program: nothing is disclosed to a recipient, so there is nothing to account for or notify.
  if (consents.length === 0 && !lifted) return resource;
  const use: Part2Use = {
    resource: `${row.resourceType}/${row.id}`,
    patients: patientsOfRow(row),
    consents,
    ...(lifted && decision.breakGlass
      ? { emergency: { grants: decision.breakGlass.grants, reasonCodes: decision.breakGlass.reasonCodes } }
      : {}),
  };
  op.part2 = [...(op.part2 ?? []), use];
  return withNotice(resource, [...new Set(consents.map((c) => c.consent))]);
}

function withNotice(resource: FhirResource, consents: readonly string[]): FhirResource {
  const meta = isPlainObject(resource.meta) ? resource.meta : {};
  const security = Array.isArray(meta.security) ? meta.security : [];
  const labelled = security.some((s) => isPlainObject(s) && s.system === ACT_CODE_SYSTEM && s.code === NO_REDISCLOSURE_CODE);
  return {
    ...resource,
    meta: {
      ...meta,
      security: labelled ? security : [...security, PART2_NOTICE_LABEL],
      extension: [
        ...withoutPart2Extensions(meta.extension),
        { url: PART2_NOTICE_EXTENSION, valueString: REDISCLOSURE_NOTICE },
        ...consents.map((id) => ({ url: PART2_CONSENT_EXTENSION, valueReference: { reference: `Consent/${id}` } })),
      ],
    },
  };
}

/** A `meta.extension` list without Ward's Part 2 notice extensions (they describe one disclosure, never the stored record). */
export function withoutPart2Extensions(extension: unknown): unknown[] {
  if (!Array.isArray(extension)) return [];
  return extension.filter((e) => !(isPlainObject(e) && (e.url === PART2_NOTICE_EXTENSION || e.url === PART2_CONSENT_EXTENSION)));
}

/** The resource's well-formed `meta.security` codings (vault-steps has the same reader; importing it would close a cycle). */
function securityCodings(resource: FhirResource): { system: string; code: string }[] {
  const security = isPlainObject(resource.meta) && Array.isArray(resource.meta.security) ? resource.meta.security : [];
  return security.flatMap((c) =>
    isPlainObject(c) && typeof c.system === 'string' && typeof c.code === 'string' ? [{ system: c.system, code: c.code }] : [],
  );
}

const unique = (values: readonly string[]): string => [...new Set(values)].join(' ');

/**
 * The audit entry's Part 2 fields (PHI-free: ids, codes, the time). Consented disclosures name
 * what was disclosed, the Consents and, for a consent naming the recipient through an
 * organization, that intermediary (§2.24, §2.25). A disclosure in a medical emergency records
 * the four §2.51(c) fields: who received it and their affiliation, who accessed it, the date and
 * time, and the nature of the emergency — the grant's reason code and a reference to the grant,
 * whose free-text justification stays sealed there.
 */
export function part2Detail(uses: readonly Part2Use[] | undefined, principal: Principal | null, time: string): Record<string, string> {
  if (!uses?.length || !principal) return {};
  const tokens = (list: readonly Part2Use[]) => unique(list.flatMap((u) => u.patients.map((p) => `${u.resource}@${p}`)));
  const consented = uses.filter((u) => !u.emergency && u.consents.length > 0);
  const emergency = uses.filter((u) => u.emergency);
  const affiliation = principal.organizations?.length ? principal.organizations.join(' ') : undefined;
  const intermediaries = consented.flatMap((u) =>
    u.consents.flatMap((c) => (c.designation ? [`Consent/${c.consent}>${c.designation}`] : [])),
  );
  const codes = [...new Set(emergency.flatMap((u) => u.emergency?.reasonCodes ?? []))];
  return {
    ...(consented.length
      ? {
          'part2.disclosed': tokens(consented),
          'part2.consents': unique(consented.flatMap((u) => u.consents.map((c) => `Consent/${c.consent}@${c.patient}`))),
          ...(intermediaries.length ? { 'part2.intermediaries': unique(intermediaries) } : {}),
          ...(affiliation ? { 'part2.affiliation': affiliation } : {}),
        }
      : {}),
    ...(emergency.length
      ? {
          'part2.emergency.disclosed': tokens(emergency),
          'part2.emergency.recipient': `${principal.id}${principal.clientId ? ` (client ${principal.clientId})` : ''}`,
          'part2.emergency.affiliation': affiliation ?? 'none stated',
          'part2.emergency.accessedBy': principal.id,
          'part2.emergency.time': time,
          'part2.emergency.nature': codes.map((c) => `${c}${purposeOfUseDisplay(c) ? ` (${purposeOfUseDisplay(c)})` : ''}`).join('; '),
          'part2.emergency.grant': unique(emergency.flatMap((u) => (u.emergency?.grants ?? []).map((g) => `break-glass/${g}`))),
        }
      : {}),
  };
}
