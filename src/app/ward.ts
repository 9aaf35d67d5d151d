import { type KeyObject, randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, AuditSealer, auditKeyId, FileWitness, HttpWitness, type SealerEvent, type Witness } from '../audit/index.js';
import { Keyring, LocalKeyFileProvider, loadOrCreatePrivateKey } from '../crypto/index.js';
import {
  AccessTokens,
  type AddressThrottleOptions,
  AdminApi,
  createIdentity,
  createSmart,
  type Identity,
  type PasswordHasher,
  type Smart,
} from '../identity/index.js';
import {
  AuditorInteractions,
  BundleInteractions,
  FhirInteractions,
  OrganizationPolicyInteractions,
  PatientChoices,
} from '../services/index.js';
import { type Database, keyStore } from '../store/index.js';
import { Vault } from '../vault/index.js';
import { type ClockStatus, checkClock } from './clock-check.js';
import type { WardConfig } from './config.js';
import { openStore } from './open-store.js';
import { systemPrincipal } from './principals.js';

export interface Ward {
  readonly config: WardConfig;
  readonly db: Database;
  /** Migrations applied when this Ward opened its database (as the owner, before serving as the app role). */
  readonly migrated: readonly number[];
  readonly vault: Vault;
  readonly fhir: FhirInteractions;
  /** Transaction and batch Bundles (the API's `POST /fhir`, and `ward import`). */
  readonly bundles: BundleInteractions;
  readonly auditor: AuditorInteractions;
  /** Organization policy overrides, managed by the system administrator (ADR 0015). */
  readonly organizationPolicy: OrganizationPolicyInteractions;
  readonly tokens: AccessTokens;
  /** Accounts, enrollment and password login (issue 5). */
  readonly identity: Identity;
  /** The SMART authorization server, client registry and bearer check (issue 5 items 5–7, ADR 0013). */
  readonly smart: Smart;
  /** The HTTP admin API over accounts and client apps (`/admin/users`, `/admin/clients`), for a stepped-up system administrator. */
  readonly admin: AdminApi;
  readonly sealer: AuditSealer;
  /** The public half of the audit signing key, as `/.well-known/ward-audit-key` publishes it. */
  readonly auditKey: { readonly keyId: string; readonly publicKey: KeyObject; readonly publicKeyPem: string };
  readonly now: () => Date;
  /** The last clock check against the database server (170.210(g)). */
  clock(): ClockStatus;
  /** Checks the clock again (the server does so every minute). */
  recheckClock(): Promise<ClockStatus>;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly now?: () => Date;
  /** Run migrations first (the server and `ward migrate` do). */
  readonly migrate?: boolean;
  /** Where the sealer reports problems (the server's log); never PHI. */
  readonly onSealerEvent?: (event: SealerEvent) => void;
  /** Tests wrap the argon2id hasher to observe verifications; the default is argon2id. */
  readonly passwordHasher?: PasswordHasher;
  /** Per-address failed-login window (tests shrink it). */
  readonly addressThrottle?: AddressThrottleOptions;
  /** Where the authorization server reports unexpected errors (the server's log); never PHI. */
  readonly onOAuthError?: (error: { name: string; message: string }) => void;
}

/** The composition root: every long-lived piece is built here, once, and passed down. */
export async function openWard(config: WardConfig, options: OpenOptions = {}): Promise<Ward> {
  const now = options.now ?? (() => new Date());
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The data directory holds the keys and the admin socket: it must be the operator's alone.
  const mode = statSync(config.dataDir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new TypeError(`WARD_DATA_DIR ${config.dataDir} is accessible to group or others (mode ${mode.toString(8)}); run chmod 700 on it`);
  }
  const provider = LocalKeyFileProvider.open(config.rootKeyFile, { create: true });
  // The Merkle sealer signs tree heads with it (Ed25519); verifiers need only its public half.
  const auditSigning = loadOrCreatePrivateKey(join(config.dataDir, 'keys', 'audit-signing.pem'), 'ed25519');
  const tokenKeys = loadOrCreatePrivateKey(join(config.dataDir, 'keys', 'token-signing.pem'), 'ec-p256');

  const { db, applied: migrated } = await openStore(config, { migrate: options.migrate ?? true });
  try {
    let clock = await checkClock(db, now, config.clockMaxOffsetMs);
    if (!clock.synchronized && config.mode === 'production') {
      throw new TypeError(
        `this host's clock is ${clock.offsetMs} ms off the database server's (limit ${config.clockMaxOffsetMs} ms): audit times must come from a synchronised clock; fix NTP before starting`,
      );
    }
    const keyring = await Keyring.open(keyStore(db), provider);
    const audit = new AuditLog(db, { maxBatch: config.auditMaxBatch });
    const vault = new Vault({ db, audit, keyring, now, newId: randomUUID, stepUpSeconds: config.stepUpMinutes * 60 });
    const fhir = new FhirInteractions(vault, `${config.baseUrl}/fhir`, { maxResourceBytes: config.bodyLimitBytes });
    const bundles = new BundleInteractions(vault, `${config.baseUrl}/fhir`, { maxResourceBytes: config.bodyLimitBytes });
    const witnesses: Witness[] = [
      new FileWitness(config.auditWitnessFile),
      ...(config.auditWitnessUrl ? [new HttpWitness(config.auditWitnessUrl)] : []),
    ];
    const sealer = new AuditSealer(db, {
      signingKey: auditSigning,
      now,
      witnesses,
      witnessFile: config.auditWitnessFile,
      maxEntriesPerHead: 50_000,
      ...(options.onSealerEvent ? { onEvent: options.onSealerEvent } : {}),
    });
    const auditor = new AuditorInteractions(vault, `${config.baseUrl}/fhir`, () => sealer.status, {
      reviewIntervalDays: config.auditReviewIntervalDays,
    });
    const tokens = new AccessTokens(tokenKeys, { issuer: config.baseUrl, audience: `${config.baseUrl}/fhir`, now });
    const identity = createIdentity({
      db,
      audit,
      keyring,
      tokens,
      now,
      relyingParty: { id: new URL(config.baseUrl).hostname, origin: new URL(config.baseUrl).origin },
      sessionPolicy: { idleSeconds: config.sessionIdleMinutes * 60, absoluteSeconds: config.sessionMaxHours * 3600 },
      stepUpSeconds: config.stepUpMinutes * 60,
      ...(options.passwordHasher ? { hasher: options.passwordHasher } : {}),
      ...(options.addressThrottle ? { addressThrottle: options.addressThrottle } : {}),
    });
    const smart = await createSmart({
      db,
      audit,
      keyring,
      tokens,
      now,
      baseUrl: config.baseUrl,
      signingKey: tokenKeys.privateKey,
      accessTokenSeconds: config.accessTokenMinutes * 60,
      passwordLogin: identity.login,
      secondFactor: identity.secondFactor,
      sessions: identity.sessions,
      webauthn: identity.webauthn,
      patientPicker: new PatientChoices(fhir),
      ...(options.onOAuthError ? { onError: options.onOAuthError } : {}),
    });
    // Key operations are audited like any other (invariant 2): the first start creates the keys.
    for (const key of keyring.created) {
      await vault.recordAdministrative(systemPrincipal(), { requestId: randomUUID(), listener: 'cli', audited: false }, 'key-create', {
        status: 201,
        detail: { keyId: key.keyId, purpose: key.purpose, kekId: key.kekId },
      });
    }
    return {
      config,
      db,
      migrated,
      vault,
      fhir,
      bundles,
      auditor,
      organizationPolicy: new OrganizationPolicyInteractions(vault),
      tokens,
      identity,
      smart,
      admin: new AdminApi({
        db,
        keyring,
        audit,
        accounts: identity.accounts,
        clients: smart.clients,
        now,
        stepUpSeconds: config.stepUpMinutes * 60,
        baseUrl: config.baseUrl,
      }),
      sealer,
      auditKey: {
        keyId: auditKeyId(auditSigning.publicKey),
        publicKey: auditSigning.publicKey,
        publicKeyPem: auditSigning.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
      now,
      clock: () => clock,
      async recheckClock() {
        clock = await checkClock(db, now, config.clockMaxOffsetMs);
        return clock;
      },
      async close() {
        await vault.drain();
        await audit.close();
        // Seal what this process wrote, so a command's entries are under a head when it exits.
        await sealer.stop();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
