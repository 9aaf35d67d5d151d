import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_STEP_UP_SECONDS, MAX_STEP_UP_SECONDS } from '../policy/index.js';

export interface WardConfig {
  readonly mode: 'development' | 'production';
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** The public base URL of the server (no trailing slash); the FHIR base is `${baseUrl}/fhir`. */
  readonly baseUrl: string;
  readonly databaseUrl?: string;
  /** The non-owner role the server uses on PostgreSQL; derived and provisioned when absent. */
  readonly appDatabaseUrl?: string;
  readonly insecureHttp: boolean;
  readonly bodyLimitBytes: number;
  readonly rootKeyFile: string;
  readonly auditMaxBatch: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly dbPoolSize: number;
  /** A CA-issued certificate for production; without them Ward issues its own from a local CA. */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** The witness file each signed audit tree head is appended to (outside the database). */
  readonly auditWitnessFile: string;
  /** Optional HTTPS endpoint each signed head is POSTed to (a witness on another host). */
  readonly auditWitnessUrl?: string;
  /** How often the sealer runs; at most a second, so a head follows new entries within a second. */
  readonly auditSealIntervalMs: number;
  /** Audit must be kept at least 6 years (45 CFR 164.316(b)(2)(i)); nothing shorter is accepted. */
  readonly auditRetentionYears: number;
  /** How often the activity records must be reviewed and signed off (164.308(a)(1)(ii)(D)); overdue reviews are flagged. */
  readonly auditReviewIntervalDays: number;
  /** Most the app's clock may differ from the database server's (170.210(g)); production refuses to start beyond it. */
  readonly clockMaxOffsetMs: number;
  /** Lifetime of access tokens the SMART authorization server issues (default 15 min, ONC (g)(10) short-lived). */
  readonly accessTokenMinutes: number;
  /** Web sessions end after this many idle minutes (ONC (d)(5)); at most 60 (NIST SP 800-63B-4 AAL2). */
  readonly sessionIdleMinutes: number;
  /** Web sessions end this many hours after login whatever the activity; at most 24 (AAL2). */
  readonly sessionMaxHours: number;
  /** A step-up (`POST /auth/step-up`) counts this many minutes for sensitive operations such as break-glass (ADR 0014); 1–15. */
  readonly stepUpMinutes: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The one place configuration is read from the environment. Unsafe combinations are refused at
 * start-up with a TypeError rather than discovered at run time.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): WardConfig {
  const mode = env.WARD_ENV === 'production' ? 'production' : 'development';
  const dataDir = resolvePath(env.WARD_DATA_DIR ?? '.ward', cwd);
  const insecureHttp = env.WARD_INSECURE_HTTP === '1';
  const host = env.WARD_HOST ?? (insecureHttp ? '127.0.0.1' : 'localhost');
  const port = intFrom(env.WARD_PORT, 8443, 'WARD_PORT', 0, 65535);
  if (insecureHttp && !LOOPBACK.has(host)) {
    // Invariant 6: plaintext exists only behind an explicit flag and only on loopback.
    throw new TypeError('WARD_INSECURE_HTTP=1 is allowed only with WARD_HOST bound to loopback (127.0.0.1, ::1 or localhost)');
  }
  if (insecureHttp && mode === 'production') throw new TypeError('WARD_INSECURE_HTTP is not allowed in production mode');
  const rootKeyFile = resolvePath(env.WARD_ROOT_KEY_FILE ?? join(dataDir, 'keys', 'root.key'), cwd);
  if (mode === 'production' && !env.WARD_ROOT_KEY_FILE) {
    throw new TypeError('production mode needs WARD_ROOT_KEY_FILE (or a KMS provider): the root key must not live beside the data');
  }
  if (Boolean(env.WARD_TLS_CERT_FILE) !== Boolean(env.WARD_TLS_KEY_FILE))
    throw new TypeError('set both WARD_TLS_CERT_FILE and WARD_TLS_KEY_FILE, or neither');
  const displayHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const baseUrl = (env.WARD_BASE_URL ?? `${insecureHttp ? 'http' : 'https'}://${displayHost}:${port}`).replace(/\/$/, '');
  const logLevel = (env.WARD_LOG_LEVEL ?? 'info') as WardConfig['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new TypeError('WARD_LOG_LEVEL is not a pino level');
  const auditWitnessUrl = env.WARD_AUDIT_WITNESS_URL;
  if (auditWitnessUrl !== undefined && auditWitnessUrl !== '') {
    const url = URL.canParse(auditWitnessUrl) ? new URL(auditWitnessUrl) : undefined;
    // Heads carry no PHI, but a witness reached in plaintext could be impersonated.
    if (!url || (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))))
      throw new TypeError('WARD_AUDIT_WITNESS_URL must be an https URL (http only on loopback)');
  }
  const sessionIdleMinutes = intFrom(env.WARD_SESSION_IDLE_MINUTES, 15, 'WARD_SESSION_IDLE_MINUTES', 1, 60);
  const sessionMaxHours = intFrom(env.WARD_SESSION_MAX_HOURS, 12, 'WARD_SESSION_MAX_HOURS', 1, 24);
  if (sessionIdleMinutes > sessionMaxHours * 60) throw new TypeError('WARD_SESSION_IDLE_MINUTES must not exceed WARD_SESSION_MAX_HOURS');
  return {
    mode,
    dataDir,
    host,
    port,
    baseUrl,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.WARD_APP_DATABASE_URL ? { appDatabaseUrl: env.WARD_APP_DATABASE_URL } : {}),
    insecureHttp,
    bodyLimitBytes: intFrom(env.WARD_BODY_LIMIT_BYTES, 8 * 1024 * 1024, 'WARD_BODY_LIMIT_BYTES', 1024, 512 * 1024 * 1024),
    rootKeyFile,
    auditMaxBatch: intFrom(env.WARD_AUDIT_MAX_BATCH, 500, 'WARD_AUDIT_MAX_BATCH', 1, 5000),
    logLevel,
    dbPoolSize: intFrom(env.WARD_DB_POOL_SIZE, 20, 'WARD_DB_POOL_SIZE', 1, 500),
    ...(env.WARD_TLS_CERT_FILE ? { tlsCertFile: resolvePath(env.WARD_TLS_CERT_FILE, cwd) } : {}),
    ...(env.WARD_TLS_KEY_FILE ? { tlsKeyFile: resolvePath(env.WARD_TLS_KEY_FILE, cwd) } : {}),
    auditWitnessFile: resolvePath(env.WARD_AUDIT_WITNESS ?? join(dataDir, 'audit-witness.log'), cwd),
    ...(auditWitnessUrl ? { auditWitnessUrl } : {}),
    auditSealIntervalMs: intFrom(env.WARD_AUDIT_SEAL_INTERVAL_MS, 250, 'WARD_AUDIT_SEAL_INTERVAL_MS', 10, 1000),
    auditRetentionYears: retentionYears(env.WARD_AUDIT_RETENTION_YEARS),
    auditReviewIntervalDays: intFrom(env.WARD_AUDIT_REVIEW_INTERVAL_DAYS, 30, 'WARD_AUDIT_REVIEW_INTERVAL_DAYS', 1, 366),
    clockMaxOffsetMs: intFrom(env.WARD_CLOCK_MAX_OFFSET_MS, 1000, 'WARD_CLOCK_MAX_OFFSET_MS', 10, 60_000),
    accessTokenMinutes: intFrom(env.WARD_ACCESS_TOKEN_MINUTES, 15, 'WARD_ACCESS_TOKEN_MINUTES', 1, 60),
    sessionIdleMinutes,
    sessionMaxHours,
    stepUpMinutes: intFrom(env.WARD_STEP_UP_MINUTES, DEFAULT_STEP_UP_SECONDS / 60, 'WARD_STEP_UP_MINUTES', 1, MAX_STEP_UP_SECONDS / 60),
  };
}

function retentionYears(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 6;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 6) {
    throw new TypeError('WARD_AUDIT_RETENTION_YEARS must be a whole number of years, at least 6 (45 CFR 164.316(b)(2)(i))');
  }
  if (n > 100) throw new TypeError('WARD_AUDIT_RETENTION_YEARS must be at most 100');
  return n;
}

function resolvePath(p: string, cwd: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

function intFrom(raw: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`${name} must be an integer between ${min} and ${max}`);
  return n;
}
