import { isWardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import type { FhirInteractions } from './fhir-interactions.js';

/** A patient as a picker lists them. */
export interface PatientChoiceView {
  readonly id: string;
  readonly display: string;
  readonly birthDate?: string;
}

/**
 * Patient look-ups for the authorization server's patient picker, as plain FHIR interactions
 * by the signed-in user: a name search (policy keeps only the patients this user may see, and
 * the search is audited with its identifying values replaced by parameter names) and a read of
 * the chosen one (refused and audited when the user may not see it).
 */
export class PatientChoices {
  readonly #fhir: FhirInteractions;

  constructor(fhir: FhirInteractions) {
    this.#fhir = fhir;
  }

  async search(principal: Principal, ctx: RequestContext, text: string, limit: number): Promise<readonly PatientChoiceView[]> {
    const query = new URLSearchParams({ name: text, _count: String(limit) });
    const res = await this.#fhir.search({ principal, ctx, resourceType: 'Patient', query });
    const bundle = res.body as { entry?: { resource?: PatientBody; search?: { mode?: string } }[] };
    return (bundle.entry ?? [])
      .filter((e) => e.search?.mode === 'match' && e.resource?.resourceType === 'Patient' && typeof e.resource.id === 'string')
      .map((e) => viewOf(e.resource as PatientBody & { id: string }));
  }

  async mayOpen(principal: Principal, ctx: RequestContext, patientId: string): Promise<boolean> {
    try {
      const res = await this.#fhir.read({ principal, ctx, resourceType: 'Patient', id: patientId, query: new URLSearchParams() });
      return res.status === 200;
    } catch (e) {
      if (isWardError(e) && e.status < 500) return false;
      throw e;
    }
  }
}

interface PatientBody {
  readonly resourceType?: string;
  readonly id?: string;
  readonly birthDate?: string;
  readonly name?: { readonly text?: string; readonly family?: string; readonly given?: readonly string[] }[];
}

function viewOf(p: PatientBody & { id: string }): PatientChoiceView {
  const name = p.name?.[0];
  const display = (name?.text ?? [...(name?.given ?? []), name?.family ?? ''].join(' ').trim()) || `Patient ${p.id}`;
  return { id: p.id, display, ...(p.birthDate ? { birthDate: p.birthDate } : {}) };
}
