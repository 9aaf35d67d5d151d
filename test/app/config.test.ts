import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';

describe('loadConfig refuses unsafe configuration at start-up', () => {
  it('164.312(e)(1) · (e)(2)(ii): plaintext HTTP only behind WARD_INSECURE_HTTP=1 and only on loopback', () => {
    expect(() => loadConfig({ WARD_INSECURE_HTTP: '1', WARD_HOST: '0.0.0.0' }, '/tmp')).toThrow(TypeError);
    expect(() => loadConfig({ WARD_INSECURE_HTTP: '1', WARD_HOST: '10.1.2.3' }, '/tmp')).toThrow(/loopback/);
    expect(loadConfig({ WARD_INSECURE_HTTP: '1' }, '/tmp').host).toBe('127.0.0.1');
    expect(loadConfig({}, '/tmp').insecureHttp).toBe(false);
  });

  it('refuses plaintext HTTP and the default key location in production mode', () => {
    expect(() => loadConfig({ WARD_ENV: 'production', WARD_INSECURE_HTTP: '1', WARD_ROOT_KEY_FILE: '/k' }, '/tmp')).toThrow(TypeError);
    expect(() => loadConfig({ WARD_ENV: 'production' }, '/tmp')).toThrow(/WARD_ROOT_KEY_FILE/);
    expect(loadConfig({ WARD_ENV: 'production', WARD_ROOT_KEY_FILE: '/etc/ward/root.key' }, '/tmp').rootKeyFile).toBe('/etc/ward/root.key');
  });

  it('defaults to HTTPS on localhost:8443 with data in ./.ward', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c.baseUrl).toBe('https://localhost:8443');
    expect(c.dataDir).toBe('/srv/app/.ward');
    expect(c.rootKeyFile).toBe('/srv/app/.ward/keys/root.key');
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a step-up counts for 5 minutes by default, and start-up refuses a window outside 1–15 minutes', () => {
    expect(loadConfig({}, '/srv').stepUpMinutes).toBe(5);
    expect(loadConfig({ WARD_STEP_UP_MINUTES: '15' }, '/srv').stepUpMinutes).toBe(15);
    for (const value of ['0', '16', '5m', '2.5']) {
      expect(() => loadConfig({ WARD_STEP_UP_MINUTES: value }, '/srv'), value).toThrow(/WARD_STEP_UP_MINUTES/);
    }
  });

  it('[NIST] 800-63B-4 §2.2.3 / §2.3.3 · 164.312(a)(2)(iii): sessions default to 15 minutes idle and 12 hours overall, and start-up refuses limits past AAL2 (1 h idle, 24 h overall)', () => {
    expect(loadConfig({}, '/srv')).toMatchObject({ sessionIdleMinutes: 15, sessionMaxHours: 12 });
    expect(loadConfig({ WARD_SESSION_IDLE_MINUTES: '60', WARD_SESSION_MAX_HOURS: '24' }, '/srv')).toMatchObject({
      sessionIdleMinutes: 60,
      sessionMaxHours: 24,
    });
    for (const env of [
      { WARD_SESSION_IDLE_MINUTES: '61' },
      { WARD_SESSION_IDLE_MINUTES: '0' },
      { WARD_SESSION_MAX_HOURS: '25' },
      { WARD_SESSION_IDLE_MINUTES: '15m' },
      { WARD_SESSION_IDLE_MINUTES: '60', WARD_SESSION_MAX_HOURS: '0' },
    ]) {
      expect(() => loadConfig(env, '/srv'), JSON.stringify(env)).toThrow(TypeError);
    }
  });

  it('refuses malformed numbers and half-configured TLS', () => {
    expect(() => loadConfig({ WARD_PORT: 'eighty' }, '/tmp')).toThrow(/WARD_PORT/);
    expect(() => loadConfig({ WARD_BODY_LIMIT_BYTES: '-1' }, '/tmp')).toThrow(/WARD_BODY_LIMIT_BYTES/);
    expect(() => loadConfig({ WARD_TLS_CERT_FILE: '/c.pem' }, '/tmp')).toThrow(/WARD_TLS_KEY_FILE/);
  });

  it('170.315(d)(2)(ii)–(iii): has no setting that turns audit off', () => {
    const c = loadConfig({ WARD_AUDIT: 'off', WARD_AUDIT_ENABLED: 'false', WARD_DISABLE_AUDIT: '1' }, '/tmp');
    // The audit settings tune batching, sealing, where heads are witnessed, how long entries are
    // kept and how often they are reviewed; none is an on/off switch.
    expect(Object.keys(c).filter((k) => /audit/i.test(k))).toEqual([
      'auditMaxBatch',
      'auditWitnessFile',
      'auditSealIntervalMs',
      'auditRetentionYears',
      'auditReviewIntervalDays',
    ]);
    expect(Object.entries(c).filter(([k, v]) => /audit/i.test(k) && typeof v === 'boolean')).toEqual([]);
  });

  it('164.308(a)(1)(ii)(D): asks for a review every 30 days unless configured, and refuses an interval outside 1-366 days', () => {
    expect(loadConfig({}, '/tmp').auditReviewIntervalDays).toBe(30);
    expect(loadConfig({ WARD_AUDIT_REVIEW_INTERVAL_DAYS: '7' }, '/tmp').auditReviewIntervalDays).toBe(7);
    for (const bad of ['0', '367', 'monthly', '1.5'])
      expect(() => loadConfig({ WARD_AUDIT_REVIEW_INTERVAL_DAYS: bad }, '/tmp')).toThrow(/WARD_AUDIT_REVIEW_INTERVAL_DAYS/);
  });

  it('witnesses audit heads beside the data by default, and only over https to a remote witness', () => {
    expect(loadConfig({ WARD_DATA_DIR: '/srv/ward' }, '/tmp').auditWitnessFile).toBe('/srv/ward/audit-witness.log');
    expect(loadConfig({ WARD_AUDIT_WITNESS_URL: 'https://witness.example.org/heads' }, '/tmp').auditWitnessUrl).toBe(
      'https://witness.example.org/heads',
    );
    expect(() => loadConfig({ WARD_AUDIT_WITNESS_URL: 'http://witness.example.org/heads' }, '/tmp')).toThrow(TypeError);
    expect(() => loadConfig({ WARD_AUDIT_WITNESS_URL: 'not a url' }, '/tmp')).toThrow(TypeError);
    // A head must follow new entries within a second (issue 7): slower sealing is refused.
    expect(() => loadConfig({ WARD_AUDIT_SEAL_INTERVAL_MS: '5000' }, '/tmp')).toThrow(TypeError);
  });

  it('164.316(b)(2)(i): keeps audit at least 6 years and refuses a shorter retention at start-up', () => {
    expect(loadConfig({}, '/tmp').auditRetentionYears).toBe(6);
    expect(loadConfig({ WARD_AUDIT_RETENTION_YEARS: '10' }, '/tmp').auditRetentionYears).toBe(10);
    for (const short of ['5', '0', '-1', '5.5', 'six']) {
      expect(() => loadConfig({ WARD_AUDIT_RETENTION_YEARS: short }, '/tmp'), short).toThrow(/at least 6/);
    }
  });
});
