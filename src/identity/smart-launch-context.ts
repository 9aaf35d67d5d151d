import type { RequestContext } from '../audit/index.js';
import type { UserRow } from '../store/index.js';
import type { LaunchContext, SmartLaunches } from './smart-launch.js';
import { isPatientId, type PatientPicker, pickerPrincipal } from './smart-patient-picker.js';

export type LaunchContextOutcome =
  | { readonly kind: 'ok'; readonly context: LaunchContext; readonly picked?: boolean }
  | { readonly kind: 'refused'; readonly reason: string; readonly description: string };

/**
 * The patient (and encounter) an app will work with, settled at consent.
 * - EHR `launch`: the context of the launch id, which only the user who launched the app may
 *   authorize (a launch id carried to another user's sign-in is refused).
 * - Standalone `launch/patient`: a patient user's own record; a workforce user's choice in the
 *   patient picker, accepted only if the vault lets this user read that Patient now (a forged or
 *   stale id is refused, and the vault audits the refused read).
 */
export async function launchContextFor(
  deps: { readonly launches: SmartLaunches; readonly picker: PatientPicker; readonly ctx: RequestContext },
  request: {
    readonly launch: unknown;
    readonly user: UserRow;
    readonly requested: readonly string[];
    readonly chosenPatient: string | null;
  },
): Promise<LaunchContextOutcome> {
  const { user, requested } = request;
  if (requested.includes('launch')) {
    const launch = typeof request.launch === 'string' ? await deps.launches.find(request.launch) : undefined;
    if (!launch) return { kind: 'refused', reason: 'launch-expired', description: 'the launch has expired' };
    if (launch.launchedBy !== user.fhirUser)
      return { kind: 'refused', reason: 'launch-other-user', description: 'the launch belongs to another user' };
    return {
      kind: 'ok',
      context: { ...(launch.patient ? { patient: launch.patient } : {}), ...(launch.encounter ? { encounter: launch.encounter } : {}) },
    };
  }
  if (user.kind === 'patient') return { kind: 'ok', context: { patient: user.fhirUser.slice('Patient/'.length) } };
  if (!requested.includes('launch/patient')) return { kind: 'ok', context: {} };
  const chosen = request.chosenPatient;
  if (!isPatientId(chosen)) return { kind: 'refused', reason: 'no-patient-chosen', description: 'no patient was chosen' };
  if (!(await deps.picker.mayOpen(pickerPrincipal(user), deps.ctx, chosen)))
    return { kind: 'refused', reason: 'patient-not-permitted', description: 'the chosen patient is not available to this user' };
  return { kind: 'ok', context: { patient: chosen }, picked: true };
}
