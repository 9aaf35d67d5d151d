import type { FhirResource } from '../fhir/index.js';
import type { EffectivePolicy } from './effective-policy.js';

/**
 * What the vault knows about the principal and the patient when it asks for a decision. Each
 * part is optional: an absent part is "not loaded", and the rule that needs it is then not
 * applied (the behaviour before these facts existed); a present part, even empty, is enforced.
 */
export interface PolicyFacts {
  /** The time the decision is made at (periods, grants). */
  readonly now: Date;
  /** The principal's relationships to patients. */
  readonly relationships?: readonly RelationshipFact[];
  /** The privacy Consent resources (FHIR R4) of the target's patients. */
  readonly consents?: readonly FhirResource[];
  /** Patients the principal acts for through an active RelatedPerson link (proxies). */
  readonly proxyFor?: readonly string[];
  /** Organizations (references) the principal belongs to, for Consent actors naming an organization. */
  readonly memberOf?: readonly string[];
  /** Break-glass grants of the principal. */
  readonly breakGlass?: readonly BreakGlassGrant[];
  /**
   * The policies of the principal's organizations that override the default (one per organization
   * with an override); the decision must be a permit under each. Absent or empty: the default.
   */
  readonly policies?: readonly EffectivePolicy[];
}

/**
 * care-team: an active participant of an active CareTeam of the patient; encounter: a participant
 * of an in-progress Encounter of the patient or of one finished in the last 72 hours; unit: a
 * member of the organization unit named as the patient's managing organization. The loader
 * derives these (a later slice); the decision only reads them.
 */
export type RelationshipKind = 'care-team' | 'encounter' | 'unit';

export interface RelationshipFact {
  readonly patient: string;
  readonly kind: RelationshipKind;
  /** Where it comes from (`CareTeam/…`, `Encounter/…`, `Organization/…`), for the reasons. */
  readonly source?: string;
}

/** An emergency-access grant: for one principal and one patient, with a reason, for a window. */
export interface BreakGlassGrant {
  readonly id: string;
  readonly principal: string;
  readonly patient: string;
  readonly reason: string;
  readonly start: Date;
  readonly end: Date;
}

export function activeBreakGlass(facts: PolicyFacts | undefined, principal: string, patient: string): BreakGlassGrant | undefined {
  if (!facts?.breakGlass) return undefined;
  const t = facts.now.getTime();
  return facts.breakGlass.find(
    (g) => g.principal === principal && g.patient === patient && g.reason.trim() !== '' && g.start.getTime() <= t && t < g.end.getTime(),
  );
}
