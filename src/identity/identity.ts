import type { AuditLog } from '../audit/index.js';
import type { Keyring } from '../crypto/index.js';
import { DEFAULT_STEP_UP_SECONDS } from '../policy/index.js';
import type { Database } from '../store/index.js';
import type { AccessTokens } from './access-tokens.js';
import { Accounts } from './accounts.js';
import { CredentialAudit } from './credential-audit.js';
import { Enrollment } from './enrollment.js';
import { type AddressThrottleOptions, DEFAULT_ADDRESS_THROTTLE } from './login-throttle.js';
import { ComplianceReport } from './mfa-report.js';
import { PasswordChange } from './password-change.js';
import { argon2idHasher, type PasswordHasher } from './password-hasher.js';
import { PasswordLogin } from './password-login.js';
import { SecondFactor } from './second-factor.js';
import { DEFAULT_SESSION_POLICY, type SessionPolicy, Sessions } from './sessions.js';
import { type RelyingParty, Webauthn } from './webauthn.js';

export interface IdentityDeps {
  readonly db: Database;
  readonly audit: AuditLog;
  readonly keyring: Keyring;
  readonly tokens: AccessTokens;
  readonly now: () => Date;
  /** argon2id unless a test wraps it (to observe that every login runs one verification). */
  readonly hasher?: PasswordHasher;
  readonly addressThrottle?: AddressThrottleOptions;
  readonly sessionPolicy?: SessionPolicy;
  /** WebAuthn's rpId and origin: the host and origin of the public base URL. */
  readonly relyingParty: RelyingParty;
  /** How long a step-up counts (WARD_STEP_UP_MINUTES), as the compliance report states it. */
  readonly stepUpSeconds?: number;
}

/** Accounts, enrollment and password login, built once by the composition root. */
export interface Identity {
  readonly accounts: Accounts;
  readonly enrollment: Enrollment;
  readonly login: PasswordLogin;
  readonly secondFactor: SecondFactor;
  readonly passwordChange: PasswordChange;
  readonly sessions: Sessions;
  readonly webauthn: Webauthn;
  /** The compliance report ((d)(13): where MFA is used). */
  readonly complianceReport: ComplianceReport;
}

export function createIdentity(deps: IdentityDeps): Identity {
  const audit = new CredentialAudit(deps.audit, deps.now);
  const hasher = deps.hasher ?? argon2idHasher();
  const base = { db: deps.db, keyring: deps.keyring, audit, now: deps.now };
  const webauthn = new Webauthn({ ...base, relyingParty: deps.relyingParty });
  const sessionPolicy = deps.sessionPolicy ?? DEFAULT_SESSION_POLICY;
  const sessions = new Sessions({ ...base, policy: sessionPolicy });
  return {
    accounts: new Accounts({ ...base, sessions }),
    enrollment: new Enrollment({ ...base, hasher }),
    login: new PasswordLogin({
      ...base,
      hasher,
      tokens: deps.tokens,
      sessions,
      addressThrottle: deps.addressThrottle ?? DEFAULT_ADDRESS_THROTTLE,
    }),
    secondFactor: new SecondFactor({ ...base, sessions, webauthn }),
    passwordChange: new PasswordChange({ ...base, hasher, sessions }),
    sessions,
    webauthn,
    complianceReport: new ComplianceReport({
      db: deps.db,
      audit: deps.audit,
      now: deps.now,
      relyingParty: deps.relyingParty,
      sessionPolicy,
      stepUpSeconds: deps.stepUpSeconds ?? DEFAULT_STEP_UP_SECONDS,
    }),
  };
}
