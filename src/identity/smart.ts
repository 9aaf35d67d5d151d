import type { KeyObject } from 'node:crypto';
import type { AuditLog } from '../audit/index.js';
import type { Keyring } from '../crypto/index.js';
import type { Database } from '../store/index.js';
import type { AccessTokens } from './access-tokens.js';
import { ClientRegistry } from './clients.js';
import { ConnectedApps } from './connected-apps.js';
import { CredentialAudit } from './credential-audit.js';
import { LoginTokenAccounts } from './login-token-accounts.js';
import { OAuthAudit } from './oauth-audit.js';
import type { PasswordLogin } from './password-login.js';
import type { SecondFactor } from './second-factor.js';
import type { Sessions } from './sessions.js';
import { smartConfiguration } from './smart-configuration.js';
import { SmartLaunches } from './smart-launch.js';
import { SmartLoginFactor } from './smart-login-factor.js';
import type { PatientPicker } from './smart-patient-picker.js';
import { createSmartServer, type SmartServer } from './smart-provider.js';
import { type BearerVerifier, bearerVerifier, SmartAccessTokens } from './smart-tokens.js';
import type { Webauthn } from './webauthn.js';

export interface SmartDeps {
  readonly db: Database;
  readonly audit: AuditLog;
  readonly keyring: Keyring;
  readonly tokens: AccessTokens;
  readonly now: () => Date;
  readonly baseUrl: string;
  readonly signingKey: KeyObject;
  readonly accessTokenSeconds: number;
  readonly onError?: (error: { name: string; message: string }) => void;
  /** Ward's password login, which the authorization server's login page runs. */
  readonly passwordLogin: PasswordLogin;
  /** Ward's second factor, sessions and WebAuthn, which the login page's second step reuses. */
  readonly secondFactor: SecondFactor;
  readonly sessions: Sessions;
  readonly webauthn: Webauthn;
  /** Patient searches and reads for the patient picker, through the vault (supplied by the composition root). */
  readonly patientPicker: PatientPicker;
}

/** The SMART authorization server, the client registry and the edge's bearer check, built once by the composition root. */
export interface Smart {
  readonly clients: ClientRegistry;
  readonly server: SmartServer;
  readonly bearer: BearerVerifier;
  readonly configuration: Record<string, unknown>;
  /** EHR launch ids (`POST /auth/launch`). */
  readonly launches: SmartLaunches;
  /** A patient's connected apps (`/auth/apps`). */
  readonly connectedApps: ConnectedApps;
}

export async function createSmart(deps: SmartDeps): Promise<Smart> {
  const audit = new OAuthAudit(deps.audit, deps.now);
  const clients = new ClientRegistry({ db: deps.db, audit, now: deps.now });
  const launches = new SmartLaunches({ db: deps.db, keyring: deps.keyring, audit, now: deps.now });
  const credentialAudit = new CredentialAudit(deps.audit, deps.now);
  const loginFactor = new SmartLoginFactor({ ...deps, audit: credentialAudit });
  const server = await createSmartServer({ ...deps, clients, audit, launches, credentialAudit, loginFactor });
  const opaque = new SmartAccessTokens(deps);
  const connectedApps = new ConnectedApps({ db: deps.db, keyring: deps.keyring, audit, now: deps.now, fhirBase: `${deps.baseUrl}/fhir` });
  return {
    clients,
    server,
    bearer: bearerVerifier(deps.tokens, opaque, new LoginTokenAccounts(deps.db)),
    configuration: smartConfiguration(deps.baseUrl),
    launches,
    connectedApps,
  };
}
