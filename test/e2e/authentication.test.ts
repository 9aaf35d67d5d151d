import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PER_ENTRY, PUBLIC, type RouteAction, requireActionOnEveryRoute, route } from '../../src/edge/routes.js';
import { PERMISSION_OF } from '../../src/policy/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';

const POLICY_ACTIONS = new Set<string>(Object.keys(PERMISSION_OF));
const EXPECTED_PUBLIC_URLS = [
  '/.well-known/jwks.json',
  '/.well-known/smart-configuration',
  '/.well-known/ward-audit-key',
  '/fhir/.well-known/smart-configuration',
  '/fhir/metadata',
  '/healthz',
];
/** Password login and enrollment are how a principal comes to exist (POST only). */
const EXPECTED_PUBLIC_AUTH_URLS = ['/auth/enroll', '/auth/login'];
/** The SMART authorization server authenticates its own callers (client assertions, PKCE, login). */
const EXPECTED_PUBLIC_OAUTH_URLS = [
  '/oauth',
  '/oauth/*',
  // The authorization server's login, second-factor and consent pages: the user signs in on them.
  '/oauth/interaction/:uid',
  '/oauth/interaction/:uid/login',
  '/oauth/interaction/:uid/factor',
  '/oauth/interaction/:uid/consent',
  '/oauth/smart-style.json',
];
/** Public to the bearer hook, but each resolves the session cookie itself (state, lifetime, CSRF). */
const SESSION_AUTH_URLS = [
  '/auth/logout',
  '/auth/mfa/totp',
  '/auth/mfa/totp/confirm',
  '/auth/mfa/verify',
  '/auth/mfa/webauthn',
  '/auth/mfa/webauthn/options',
  '/auth/webauthn/register',
  '/auth/webauthn/register/options',
  '/auth/password',
  '/auth/session',
  '/auth/sessions',
  '/auth/sessions/:handle',
  '/auth/step-up',
  '/auth/step-up/webauthn/options',
];

/** A URL for a route pattern, with its parameters filled in. */
function concreteUrl(pattern: string, id: string): string {
  return pattern.replace(':type', 'Patient').replace(':vid', '1').replace(':id', id);
}

function expectUnauthenticated(res: Call, label = ''): void {
  expect(res.status, label).toBe(401);
  expect(String(res.headers['www-authenticate']), label).toMatch(/^Bearer\b/);
  expect(String(res.headers['content-type']), label).toMatch(/^application\/fhir\+json/);
  expect(res.body?.resourceType, label).toBe('OperationOutcome');
  expect(res.body.issue[0].code, label).toBe('login');
}

describe('route guard', () => {
  it('164.312(d): refuses at start-up a route registered without a policy action', async () => {
    const app = Fastify();
    const registered: { method: string; url: string; action: RouteAction }[] = [];
    requireActionOnEveryRoute(app, registered);
    route(app, { method: 'GET', url: '/declared', action: 'read', handler: async () => 'ok' });
    route(app, { method: 'GET', url: '/open', action: PUBLIC, handler: async () => 'ok' });
    expect(() => app.get('/undeclared', async () => 'leak')).toThrow(/declares no policy action/);
    expect(() => app.route({ method: 'POST', url: '/no-config', handler: async () => 'leak' })).toThrow(/declares no policy action/);
    expect(() => app.route({ method: 'DELETE', url: '/empty-config', config: {}, handler: async () => 'leak' })).toThrow(
      /declares no policy action/,
    );
    expect(registered.filter((r) => r.method === 'GET').map((r) => [r.url, r.action])).toEqual([
      ['/declared', 'read'],
      ['/open', PUBLIC],
    ]);
    expect(registered.some((r) => /undeclared|no-config|empty-config/.test(r.url))).toBe(false);
    await app.close();
  });
});

describe.each(engines())('authentication on %s', (engine) => {
  let t: TestWard;
  let doctor: FhirClient;
  let patientId: string;
  let tokenKey: KeyObject;

  /** The unit whose patient the physicians here reach (ADR 0009: unit relationship). */
  const UNIT = 'Organization/ward-unit';
  /** Claims of a well-formed access token for this Ward, which an attack then bends. */
  const goodClaims = () => ({
    scope: 'user/*.cruds',
    ward_roles: ['physician'],
    client_id: 'ward-cli',
    fhirUser: 'Practitioner/doc-attack',
    ward_organizations: [UNIT],
  });
  const issuer = () => t.config.baseUrl;
  const audience = () => `${t.config.baseUrl}/fhir`;

  async function sign(
    key: KeyObject | Uint8Array,
    options: { alg?: string; iss?: string; aud?: string; claims?: Record<string, unknown>; exp?: number } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(options.claims ?? goodClaims())
      .setProtectedHeader({ alg: options.alg ?? 'ES256', typ: 'at+jwt' })
      .setIssuer(options.iss ?? issuer())
      .setAudience(options.aud ?? audience())
      .setSubject('Practitioner/doc-attack')
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(options.exp ?? now + 600)
      .sign(key);
  }

  beforeAll(async () => {
    t = await openTestWard(engine);
    doctor = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/doc-1', scope: 'user/*.cruds', organization: UNIT }));
    const created = await doctor.post('Patient', {
      resourceType: 'Patient',
      name: [{ family: 'Quixote-Secretname', given: ['Alonso'] }],
      birthDate: '1961-02-03',
      managingOrganization: { reference: UNIT },
    });
    expect(created.status).toBe(201);
    patientId = created.body.id;
    // Ward's own signing key, so that claim checks are tested apart from the signature check.
    tokenKey = createPrivateKey(readFileSync(join(t.config.dataDir, 'keys', 'token-signing.pem'), 'utf8'));
  });
  afterAll(async () => t?.close());

  it('164.312(d) · 170.315(d)(1)(i): every route declares an action, and the public routes are exactly metadata, healthz, JWKS, the audit key, SMART discovery, login, enrollment and the authorization server', () => {
    const routes = t.http.routes;
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      // PER_ENTRY (transaction and batch Bundles) still needs a token; each entry is then decided on its own.
      const known = r.action === PUBLIC || r.action === PER_ENTRY || POLICY_ACTIONS.has(r.action);
      expect(known, `${r.method} ${r.url} has action ${String(r.action)}`).toBe(true);
    }
    const publicUrls = [...new Set(routes.filter((r) => r.action === PUBLIC).map((r) => r.url))].sort();
    expect(publicUrls).toEqual(
      [...EXPECTED_PUBLIC_URLS, ...EXPECTED_PUBLIC_AUTH_URLS, ...SESSION_AUTH_URLS, ...EXPECTED_PUBLIC_OAUTH_URLS].sort(),
    );
  });

  it('164.312(d) · 170.315(d)(1)(i): every session route answers 401 with no session cookie, or with an unknown one', async () => {
    for (const r of t.http.routes.filter((route) => SESSION_AUTH_URLS.includes(route.url))) {
      const url = r.url.replace(':handle', '00000000-0000-4000-8000-000000000000');
      for (const cookie of [undefined, `__Host-ward_session=${'B'.repeat(43)}`]) {
        const res = await t.http.app.inject({
          method: r.method as 'GET',
          url,
          headers: cookie ? { cookie } : {},
          payload: r.method === 'POST' ? {} : undefined,
        });
        expect(res.statusCode, `${r.method} ${url}`).toBe(401);
        if (r.method !== 'HEAD') expect(res.json().resourceType).toBe('OperationOutcome');
      }
    }
  });

  it('164.312(d) · 170.315(d)(1)(i): every PHI route answers 401 without credentials, with an OperationOutcome and WWW-Authenticate: Bearer', async () => {
    const anonymous = fhirClient(t);
    const guarded = t.http.routes.filter((r) => r.action !== PUBLIC);
    expect(guarded.length).toBeGreaterThanOrEqual(12);
    for (const r of guarded) {
      const url = concreteUrl(r.url, patientId);
      const label = `${r.method} ${url}`;
      const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? { resourceType: 'Patient', id: patientId } : undefined;
      const res = await anonymous.call(r.method as 'GET', url, body);
      if (r.method === 'HEAD') {
        expect(res.status, label).toBe(401);
        expect(String(res.headers['www-authenticate']), label).toMatch(/^Bearer\b/);
        continue;
      }
      expectUnauthenticated(res, label);
      expect(res.raw.body, label).not.toContain('Quixote');
      expect(res.raw.body, label).not.toContain(patientId);
    }
  });

  it('164.312(d) · 170.315(d)(1)(i): the public routes answer without credentials and the metadata lists no PHI', async () => {
    const anonymous = fhirClient(t);
    for (const url of EXPECTED_PUBLIC_URLS) {
      const res = await anonymous.get(url);
      expect(res.status, url).toBe(200);
      expect(res.raw.body, url).not.toContain('Quixote');
    }
  });

  it('164.312(d) · 170.315(d)(1)(i): search and read of every resource type in the CapabilityStatement answer 401 without credentials', async () => {
    const anonymous = fhirClient(t);
    const types: string[] = (await anonymous.get('metadata')).body.rest[0].resource.map((r: any) => r.type);
    expect(types.length).toBe(146);
    for (const type of types) {
      expectUnauthenticated(await anonymous.get(`${type}`), `GET ${type}`);
      expectUnauthenticated(await anonymous.get(`${type}/${patientId}`), `GET ${type}/id`);
    }
  });

  it('164.312(d): a well-formed token signed by Ward is accepted (control for the attacks below)', async () => {
    const token = await sign(tokenKey);
    const res = await fhirClient(t, token).get(`Patient/${patientId}`);
    expect(res.status).toBe(200);
  });

  const attacks: [string, () => Promise<string>][] = [
    ['signed by another EC P-256 key', async () => sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)],
    [
      'alg=none (unsecured JWT)',
      async () =>
        new UnsecuredJWT(goodClaims())
          .setIssuer(issuer())
          .setAudience(audience())
          .setSubject('Practitioner/doc-attack')
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime('10m')
          .encode(),
    ],
    [
      'alg=none with the typ header kept',
      async () => {
        const seg = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        const payload = {
          ...goodClaims(),
          iss: issuer(),
          aud: audience(),
          sub: 'Practitioner/doc-attack',
          jti: randomUUID(),
          iat: now,
          exp: now + 600,
        };
        return `${seg({ alg: 'none', typ: 'at+jwt' })}.${seg(payload)}.`;
      },
    ],
    [
      'HS256 forged with the public key (PEM) as the HMAC secret',
      async () =>
        sign(new TextEncoder().encode(createPublicKey(tokenKey).export({ type: 'spki', format: 'pem' }) as string), { alg: 'HS256' }),
    ],
    [
      'HS256 forged with the published JWKS as the HMAC secret',
      async () => {
        const jwks = (await fhirClient(t).get('/.well-known/jwks.json')).raw.body;
        return sign(new TextEncoder().encode(jwks), { alg: 'HS256' });
      },
    ],
    ['for the wrong audience', async () => sign(tokenKey, { aud: 'https://other-ward.test/fhir' })],
    ['from the wrong issuer', async () => sign(tokenKey, { iss: 'https://evil.test' })],
    ['with an unknown role claim', async () => sign(tokenKey, { claims: { ...goodClaims(), ward_roles: ['superuser'] } })],
    ['with a role claim that is not a list', async () => sign(tokenKey, { claims: { ...goodClaims(), ward_roles: 'physician' } })],
    [
      'with an organizations claim naming something other than an Organization',
      async () => sign(tokenKey, { claims: { ...goodClaims(), ward_organizations: ['Patient/someone'] } }),
    ],
    ['with a malformed scope claim', async () => sign(tokenKey, { claims: { ...goodClaims(), scope: 'user/*.everything' } })],
    ['that expired long ago (signed by Ward)', async () => sign(tokenKey, { exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['that is garbage', async () => 'not.a.jwt'],
    ['that is a signed token with its signature cut off', async () => (await sign(tokenKey)).split('.').slice(0, 2).join('.')],
  ];

  it.each(attacks)('164.312(d) · 170.315(d)(1)(i): refuses a bearer token %s with 401, audited as anonymous', async (_name, make) => {
    const token = await make();
    const before = await lastAuditSeq(t.ward);
    const res = await fhirClient(t, token).get(`Patient/${patientId}`);
    expectUnauthenticated(res);
    expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    expect(res.raw.body).not.toContain(token);
    for (const part of token.split('.').filter((p) => p.length > 8)) expect(res.raw.body).not.toContain(part);
    expect(res.raw.body).not.toContain('Quixote');
    expect(res.raw.body).not.toContain('doc-attack');
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(1);
    const entry = rows[0]?.parsed;
    expect(entry.who.id).toBe('anonymous');
    expect(entry.outcome.status).toBe(401);
    expect(entry.outcome.code).toBe('WARD_UNAUTHENTICATED');
    expect(rows[0]?.entry).not.toContain(token);
  });

  it.each([
    ['Basic credentials', `Basic ${Buffer.from('doc-1:password').toString('base64')}`],
    ['a bearer scheme with an empty token', 'Bearer '],
    ['a bearer token with characters outside token68', 'Bearer {"alg":"none"}'],
    ['a lower-case scheme and no token', 'bearer'],
  ])('164.312(d) · 170.315(d)(1)(i): refuses an Authorization header with %s with 401, audited as anonymous', async (_name, header) => {
    const before = await lastAuditSeq(t.ward);
    const res = await fhirClient(t).get(`Patient/${patientId}`, { authorization: header });
    expectUnauthenticated(res);
    expect(res.raw.body).not.toContain('password');
    expect(res.raw.body).not.toContain(Buffer.from('doc-1:password').toString('base64'));
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.parsed.who.id).toBe('anonymous');
    expect(rows[0]?.parsed.outcome.status).toBe(401);
  });

  it('164.312(d) · 170.315(d)(1)(i): a token minted for 1 minute works until it expires, then answers 401 (fake clock)', async () => {
    const start = new Date();
    t.setNow(start);
    try {
      const token = await t.token({
        role: 'physician',
        sub: 'Practitioner/doc-expiring',
        scope: 'user/*.cruds',
        ttl: '1m',
        organization: UNIT,
      });
      const client = fhirClient(t, token);
      expect((await client.get(`Patient/${patientId}`)).status).toBe(200);
      t.setNow(new Date(start.getTime() + 2 * 60_000));
      const before = await lastAuditSeq(t.ward);
      const res = await client.get(`Patient/${patientId}`);
      expectUnauthenticated(res);
      expect(res.raw.body).not.toContain(token);
      expect(res.raw.body).not.toContain('Quixote');
      const rows = await auditRowsAfter(t.ward, before);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.parsed.who.id).toBe('anonymous');
      expect(rows[0]?.parsed.outcome.status).toBe(401);
    } finally {
      t.setNow(null);
    }
  });

  it('invariant 5: error bodies echo neither the token nor PHI from the URL, query or request body', async () => {
    const anonymous = fhirClient(t);
    const noAuth = await anonymous.get('Patient?identifier=urn:mrn|MRN-Quixote-Secretname&name=Quixote-Secretname');
    expectUnauthenticated(noAuth);
    expect(noAuth.raw.body).not.toMatch(/Quixote|MRN-/);

    const token = await t.token({ role: 'physician', sub: 'Practitioner/doc-2', scope: 'user/*.cruds' });
    const client = fhirClient(t, token);
    const malformed = await client.post('Patient', '{"resourceType":"Patient","name":[{"family":"Quixote-Secretname"');
    expect(malformed.status).toBe(400);
    expect(malformed.body.resourceType).toBe('OperationOutcome');
    expect(malformed.raw.body).not.toContain('Quixote');
    expect(malformed.raw.body).not.toContain(token);

    const invalid = await client.post('Patient', {
      resourceType: 'Patient',
      name: [{ family: 'Quixote-Secretname' }],
      birthDate: 'Quixote-1961',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.raw.body).not.toContain('Quixote');

    const unknownParam = await client.get('Patient?family:contains=Quixote-Secretname&birthdate=1961-02-03');
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.resourceType).toBe('OperationOutcome');
    expect(unknownParam.raw.body).not.toContain('Quixote');
    expect(unknownParam.raw.body).not.toContain('1961-02-03');
  });
});
