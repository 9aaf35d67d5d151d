import { randomBytes } from 'node:crypto';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { consumeArtifactOnce, type Database, findArtifact, findClient, upsertArtifact } from '../store/index.js';
import type { CredentialContext } from './credential-audit.js';
import type { OAuthAudit } from './oauth-audit.js';
import { artifactKey, artifactLookupKey, openArtifact, sealArtifact } from './oauth-sealing.js';

/** An EHR launch id is good for one authorization request, within five minutes of being issued. */
export const LAUNCH_SECONDS = 300;
const LAUNCH_KIND = 'WardLaunch';
const CONTEXT_KIND = 'WardLaunchContext';
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The context an app is launched with (SMART App Launch: token response `patient`, `encounter`). */
export interface LaunchContext {
  readonly patient?: string;
  readonly encounter?: string;
}

/** What a launch id stands for: who launched which app, in which context. */
export interface Launch extends LaunchContext {
  /** The FHIR user (Practitioner/…, User/…) who launched the app; only they may authorize it. */
  readonly launchedBy: string;
  readonly clientId: string;
}

export interface SmartLaunchesDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: OAuthAudit;
  readonly now: () => Date;
}

/**
 * EHR launch ids and the launch context bound to a grant. A launch id is 256 random bits,
 * stored only as a keyed hash with a sealed payload (like every authorization-server artifact),
 * single use (consumed atomically by the authorization request that presents it) and short-lived.
 * The context an authorization settles on is kept per grant, so revoking the grant (refresh
 * token reuse, a patient revoking the app) removes it with the tokens.
 */
export class SmartLaunches {
  readonly #deps: SmartLaunchesDeps;

  constructor(deps: SmartLaunchesDeps) {
    this.#deps = deps;
  }

  /** `POST /auth/launch`: a signed-in workforce user opens an approved app for a patient (and encounter). */
  async issue(principal: Principal, ctx: CredentialContext, body: unknown): Promise<{ launch: string; expiresIn: number }> {
    const { db, keyring, audit, now } = this.#deps;
    const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const actor = { kind: 'client' as const, clientId: String(principal.clientId ?? 'unknown'), sub: principal.id };
    const refuse = async (status: number, code: 'WARD_INVALID_REQUEST' | 'WARD_POLICY_DENIED', reason: string) => {
      await audit.record(ctx, { action: 'launch-create', actor, status, code, detail: { reason } });
      return new WardError(code, { details: [{ diagnostics: reason }] });
    };
    if (principal.kind !== 'user') throw await refuse(403, 'WARD_POLICY_DENIED', 'only a workforce user launches an app');
    const clientId = typeof input.client_id === 'string' ? input.client_id : '';
    const patient = typeof input.patient === 'string' ? input.patient : '';
    const encounter = input.encounter === undefined ? undefined : String(input.encounter);
    if (!FHIR_ID.test(patient) || (encounter !== undefined && !FHIR_ID.test(encounter)))
      throw await refuse(400, 'WARD_INVALID_REQUEST', 'patient (and encounter) are FHIR ids');
    const client = /^[A-Za-z0-9._-]{1,100}$/.test(clientId) ? await findClient(db, clientId) : undefined;
    if (client?.state !== 'approved' || client.redirectUris.length === 0)
      throw await refuse(400, 'WARD_INVALID_REQUEST', 'client_id names no approved interactive app');
    const launch = randomBytes(32).toString('base64url');
    const payload: Launch = { launchedBy: principal.id, clientId, patient, ...(encounter ? { encounter } : {}) };
    const idHash = artifactKey(keyring, launch);
    const box = sealArtifact(keyring, LAUNCH_KIND, idHash, payload);
    await upsertArtifact(db, {
      kind: LAUNCH_KIND,
      idHash,
      grantHash: null,
      uidHash: null,
      userCodeHash: null,
      clientId,
      accountId: null,
      keyId: box.keyId,
      iv: box.iv,
      payload: box.ciphertext,
      expiresAt: new Date(now().getTime() + LAUNCH_SECONDS * 1000),
    });
    // The patient is named by id only; the launch id itself is never recorded.
    await audit.record(ctx, {
      action: 'launch-create',
      actor: { ...actor, clientId },
      status: 201,
      detail: { patient, ...(encounter ? { encounter } : {}), expiresIn: String(LAUNCH_SECONDS) },
    });
    return { launch, expiresIn: LAUNCH_SECONDS };
  }

  /** Uses a launch id up (the authorization request presenting it); false if unknown, expired, used, or another app's. */
  async consume(launch: string, clientId: string): Promise<boolean> {
    const found = await this.find(launch);
    if (found?.clientId !== clientId) return false;
    return consumeArtifactOnce(this.#deps.db, LAUNCH_KIND, artifactKey(this.#deps.keyring, launch), this.#deps.now());
  }

  /** The launch a (possibly already consumed) launch id stands for, while it has not expired. */
  async find(launch: string): Promise<Launch | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(launch)) return undefined;
    const { db, keyring, now } = this.#deps;
    const row = await findArtifact(db, LAUNCH_KIND, artifactKey(keyring, launch));
    if (!row?.expiresAt || row.expiresAt.getTime() <= now().getTime()) return undefined;
    return openArtifact(keyring, row) as unknown as Launch;
  }

  /** Binds the context an authorization settled on to its grant (revoked with it). */
  async bind(grantId: string, accountId: string, clientId: string, context: LaunchContext): Promise<void> {
    const { db, keyring } = this.#deps;
    const idHash = artifactKey(keyring, `launch-context:${grantId}`);
    const box = sealArtifact(keyring, CONTEXT_KIND, idHash, context);
    await upsertArtifact(db, {
      kind: CONTEXT_KIND,
      idHash,
      grantHash: artifactLookupKey(keyring, 'oauth-grant', grantId),
      uidHash: null,
      userCodeHash: null,
      clientId,
      accountId,
      keyId: box.keyId,
      iv: box.iv,
      payload: box.ciphertext,
      expiresAt: null,
    });
  }

  async contextOf(grantId: string): Promise<LaunchContext> {
    const { db, keyring } = this.#deps;
    const row = await findArtifact(db, CONTEXT_KIND, artifactKey(keyring, `launch-context:${grantId}`));
    return row ? (openArtifact(keyring, row) as LaunchContext) : {};
  }
}
