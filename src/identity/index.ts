export type { SessionState } from '../store/index.js';
export {
  ACCESS_TOKEN_ALG,
  AccessTokens,
  type MintedToken,
  type MintRequest,
  parseTtl,
  type TokenKeys,
  TokenRequestError,
  tokenFingerprint,
} from './access-tokens.js';
export { type Accounts, type CreatedUser, type CreateUserRequest, DEFAULT_ENROLLMENT_TTL_SECONDS } from './accounts.js';
export { ADMIN_LIST_LIMIT, AdminApi, type AdminClientView, type AdminUserCreated, type AdminUserView } from './admin-api.js';
export { type AdminRefusal, adminRefusal } from './admin-gate.js';
export { CLIENT_ASSERTION_ALGS, ClientRegistry, type RegisterClientRequest } from './clients.js';
export type { ConnectedApp, ConnectedApps } from './connected-apps.js';
export type { CredentialContext } from './credential-audit.js';
export type { Enrollment } from './enrollment.js';
export { createIdentity, type Identity, type IdentityDeps } from './identity.js';
export {
  type AddressThrottleOptions,
  BACKOFF_AFTER_FAILURES,
  DEFAULT_ADDRESS_THROTTLE,
  LOCK_AFTER_FAILURES,
  MAX_BACKOFF_SECONDS,
} from './login-throttle.js';
export { COMPLIANCE_REPORT_ROLES, type ComplianceReport, type ComplianceReportResult } from './mfa-report.js';
export { commonPasswords } from './password-blocklist.js';
export { ARGON2ID_PARAMETERS, argon2idHasher, type PasswordHasher } from './password-hasher.js';
export { LOGIN_CLIENT_ID, LOGIN_TOKEN_TTL_SECONDS, type LoginResult, type PasswordLogin } from './password-login.js';
export {
  checkPassword,
  normalizePassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type PasswordRefusal,
  REFUSAL_TEXT,
} from './password-policy.js';
export { type AppSignInResult, type FactorResult, SecondFactor } from './second-factor.js';
export {
  type CurrentSession,
  DEFAULT_SESSION_POLICY,
  type IssuedSession,
  PENDING_SESSION_SECONDS,
  type SessionPolicy,
  Sessions,
  WEB_CLIENT_ID,
} from './sessions.js';
export { createSmart, type Smart, type SmartDeps } from './smart.js';
export {
  PATIENT_OFFLINE_REFRESH_SECONDS,
  SIGN_IN_SESSION_SECONDS,
  WORKFORCE_REFRESH_SECONDS,
} from './smart-authorization-code.js';
export type { InteractionOutcome, InteractionView } from './smart-interactions.js';
export { LAUNCH_SECONDS, type SmartLaunches } from './smart-launch.js';
export { type EnrolledFactors, type FactorPlan, factorPlan } from './smart-login-factor.js';
export { type PatientChoice, type PatientPicker, PICKER_CLIENT_ID } from './smart-patient-picker.js';
export { MAX_ASSERTION_LIFETIME_SECONDS, OAUTH_MOUNT, SMART_STYLE_PATH, type SmartServer } from './smart-provider.js';
export { type ScopeLine, scopeLines } from './smart-scope-words.js';
export type { BearerVerifier } from './smart-tokens.js';
export { type RelyingParty, Webauthn } from './webauthn.js';
