import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { type Database, deleteAppArtifactsOfPatient, listGrantsOfPatient } from '../store/index.js';
import type { CredentialContext } from './credential-audit.js';
import type { OAuthAudit } from './oauth-audit.js';
import { openArtifact } from './oauth-sealing.js';
import { LOGIN_CLIENT_ID } from './password-login.js';

/** One app with access to a patient's record, as the patient sees it. */
export interface ConnectedApp {
  readonly clientId: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly grantedAt: string | null;
}

export interface ConnectedAppsDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: OAuthAudit;
  readonly now: () => Date;
  readonly fhirBase: string;
}

/**
 * A patient's connected apps (issue 5 item 8; 170.315(g)(10)(vi)): the apps the patient granted
 * access, and revoking one — its grant, codes, access and refresh tokens go in one statement, so
 * its next FHIR request gets 401 and its next refresh `invalid_grant`. Only the patient acting
 * through Ward itself (a login token, not an app's token) may do either: an app cannot list or
 * revoke the patient's other apps. Both are audited.
 */
export class ConnectedApps {
  readonly #deps: ConnectedAppsDeps;

  constructor(deps: ConnectedAppsDeps) {
    this.#deps = deps;
  }

  async list(principal: Principal, ctx: CredentialContext): Promise<ConnectedApp[]> {
    await this.#mustBePatientThroughWard(principal, ctx, 'app-list');
    const { db, keyring, audit, now, fhirBase } = this.#deps;
    const byClient = new Map<string, { name: string; scopes: Set<string>; grantedAt: number | null }>();
    for (const row of await listGrantsOfPatient(db, principal.id, now())) {
      const grant = openArtifact(keyring, { ...row, kind: 'Grant', grantHash: null, uidHash: null, userCodeHash: null, consumedAt: null });
      const app = byClient.get(row.clientId) ?? { name: row.clientName, scopes: new Set<string>(), grantedAt: null };
      for (const s of scopesOf(grant, fhirBase)) app.scopes.add(s);
      const iat = typeof grant.iat === 'number' ? grant.iat * 1000 : null;
      if (iat !== null && (app.grantedAt === null || iat < app.grantedAt)) app.grantedAt = iat;
      byClient.set(row.clientId, app);
    }
    const apps = [...byClient].map(([clientId, a]) => ({
      clientId,
      name: a.name,
      scopes: [...a.scopes],
      grantedAt: a.grantedAt === null ? null : new Date(a.grantedAt).toISOString(),
    }));
    await audit.record(ctx, { action: 'app-list', actor: actorOf(principal), status: 200, detail: { apps: String(apps.length) } });
    return apps;
  }

  async revoke(principal: Principal, ctx: CredentialContext, clientId: string): Promise<{ revoked: number }> {
    await this.#mustBePatientThroughWard(principal, ctx, 'app-revoke');
    const { db, audit } = this.#deps;
    const revoked = /^[A-Za-z0-9._-]{1,100}$/.test(clientId) ? await deleteAppArtifactsOfPatient(db, principal.id, clientId) : 0;
    if (revoked === 0) {
      await audit.record(ctx, { action: 'app-revoke', actor: actorOf(principal), status: 404, code: 'WARD_NOT_FOUND', detail: {} });
      throw new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No connected app has that id' }] });
    }
    await audit.record(ctx, {
      action: 'app-revoke',
      actor: { kind: 'client', clientId, sub: principal.id },
      status: 200,
      detail: { revokedArtifacts: String(revoked) },
    });
    return { revoked };
  }

  async #mustBePatientThroughWard(principal: Principal, ctx: CredentialContext, action: 'app-list' | 'app-revoke'): Promise<void> {
    if (principal.kind === 'patient' && principal.clientId === LOGIN_CLIENT_ID) return;
    await this.#deps.audit.record(ctx, {
      action,
      actor: actorOf(principal),
      status: 403,
      code: 'WARD_POLICY_DENIED',
      detail: { reason: 'only a patient signed in to Ward manages their apps' },
    });
    throw new WardError('WARD_POLICY_DENIED');
  }
}

function actorOf(principal: Principal) {
  return { kind: 'client' as const, clientId: principal.clientId ?? 'unknown', sub: principal.id };
}

/** The scopes a stored grant holds: its OpenID scopes and its FHIR server scopes. */
function scopesOf(grant: Record<string, unknown>, fhirBase: string): string[] {
  const openid = (grant.openid as { scope?: unknown } | undefined)?.scope;
  const resource = (grant.resources as Record<string, unknown> | undefined)?.[fhirBase];
  return [openid, resource].flatMap((s) => (typeof s === 'string' ? s.split(' ').filter(Boolean) : []));
}
