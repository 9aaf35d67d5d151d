import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, suspendClient } from '../../src/app/client-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { createTestDatabase, engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { runWard } from '../support/ward-process.js';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

interface Backend {
  readonly clientId: string;
  readonly privateKey: Key;
  readonly kid: string;
  readonly alg: 'ES384' | 'RS384';
}

describe.each(engines())('SMART Backend Services on %s', (engine) => {
  let t: TestWard;
  let patientId: string;
  const tokenUrl = () => `${t.config.baseUrl}/oauth/token`;

  async function register(alg: 'ES384' | 'RS384', scope: string): Promise<Backend> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const out = await createClient(t.ward, operatorPrincipal('test'), operatorContext('cli'), {
      name: `backend ${alg}`,
      scope,
      jwks: JSON.stringify({ keys: [jwk] }),
    });
    const clientId = out.split('\n').at(-1) ?? '';
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    return { clientId, privateKey, kid, alg };
  }

  function assertion(c: Backend, options: { jti?: string; exp?: number; key?: Key; aud?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: c.alg, kid: c.kid, typ: 'JWT' })
      .setIssuer(c.clientId)
      .setSubject(c.clientId)
      .setAudience(options.aud ?? tokenUrl())
      .setJti(options.jti ?? randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(options.exp ?? now + 240)
      .sign(options.key ?? c.privateKey);
  }

  async function tokenRequest(scope: string, clientAssertion: string) {
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'client_credentials',
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      }).toString(),
    });
    return { status: res.statusCode, body: res.json() as Record<string, any>, headers: res.headers };
  }

  beforeAll(async () => {
    t = await openTestWard(engine);
    const writer = fhirClient(t, await t.token(SERVICE));
    patientId = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Backend-Secretname' }] })).body.id;
  });
  afterAll(async () => t?.close());

  it('170.315(g)(10)(vii)–(viii): publishes SMART configuration with private_key_jwt, client_credentials, S256 and the introspection and revocation endpoints', async () => {
    const res = await fhirClient(t).get('/.well-known/smart-configuration');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: 'https://ward.test/oauth',
      token_endpoint: 'https://ward.test/oauth/token',
      jwks_uri: 'https://ward.test/oauth/jwks',
      introspection_endpoint: 'https://ward.test/oauth/introspect',
      revocation_endpoint: 'https://ward.test/oauth/revoke',
      code_challenge_methods_supported: ['S256'],
    });
    expect(res.body.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(res.body.grant_types_supported).toContain('client_credentials');
    expect((await fhirClient(t).get('/fhir/.well-known/smart-configuration')).body).toEqual(res.body);
    const oidc = await t.http.app.inject({ method: 'GET', url: '/oauth/.well-known/openid-configuration' });
    expect(oidc.statusCode).toBe(200);
    expect(oidc.json()).toMatchObject({ issuer: 'https://ward.test/oauth', token_endpoint: 'https://ward.test/oauth/token' });
    const jwks = await t.http.app.inject({ method: 'GET', url: '/oauth/jwks' });
    expect(jwks.json().keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256' });
    expect(jwks.json().keys[0].d).toBeUndefined();
  });

  it.each(['ES384', 'RS384'] as const)(
    '170.315(g)(10)(v)(B) · 170.315(d)(1): a %s-signed client assertion gets a system token that reads system/Patient.rs through the FHIR API, audited with the client id',
    async (alg) => {
      const c = await register(alg, 'system/Patient.rs system/Observation.rs');
      const before = await lastAuditSeq(t.ward);
      const res = await tokenRequest('system/Patient.rs', await assertion(c));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs', expires_in: 900 });
      expect(res.headers['cache-control']).toContain('no-store');
      const api = fhirClient(t, res.body.access_token);
      const read = await api.get(`Patient/${patientId}`);
      expect(read.status).toBe(200);
      expect(read.body.name[0].family).toBe('Backend-Secretname');
      // Only what was granted: Observation was in the ceiling but not requested.
      expect((await api.get('Observation')).status).toBe(403);
      const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
      const grant = rows.find((e) => e.action === 'token-grant');
      expect(grant).toMatchObject({ who: { clientId: c.clientId, kind: 'system' }, outcome: { status: 200 } });
      expect(JSON.stringify(rows)).not.toContain(res.body.access_token);
      const readEntry = rows.find((e) => e.action === 'read');
      expect(readEntry).toMatchObject({ who: { id: 'system', clientId: c.clientId } });
    },
  );

  async function clientPost(url: string, c: Backend, form: Record<string, string>) {
    const res = await t.http.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        ...form,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(c, { aud: `${t.config.baseUrl}${url}` }),
      }).toString(),
    });
    return { status: res.statusCode, body: res.body ? (res.json() as Record<string, any>) : {} };
  }

  it('170.315(g)(10)(vii)–(viii): introspection reports a live token active with its scope and client, another client learns nothing, and a revoked token is inactive and refused by the FHIR API', async () => {
    const c = await register('ES384', 'system/Patient.rs');
    const other = await register('RS384', 'system/Patient.rs');
    const token = (await tokenRequest('system/Patient.rs', await assertion(c))).body.access_token as string;
    const live = await clientPost('/oauth/introspect', c, { token });
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ active: true, client_id: c.clientId, scope: 'system/Patient.rs', token_type: 'Bearer' });
    expect((await clientPost('/oauth/introspect', other, { token })).body).toEqual({ active: false });
    const before = await lastAuditSeq(t.ward);
    expect((await clientPost('/oauth/revoke', c, { token })).status).toBe(200);
    expect((await clientPost('/oauth/introspect', c, { token })).body).toEqual({ active: false });
    expect((await fhirClient(t, token).get(`Patient/${patientId}`)).status).toBe(401);
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows.map((e) => [e.action, e.who.clientId, e.detail?.active])).toEqual([
      ['token-revoke', c.clientId, undefined],
      ['token-introspect', c.clientId, 'false'],
      ['request', undefined, undefined],
    ]);
  });

  it('170.315(d)(12): no token, refresh token or assertion is stored in plaintext', async () => {
    const c = await register('ES384', 'system/Patient.rs');
    const signed = await assertion(c);
    const res = await tokenRequest('system/Patient.rs', signed);
    expect(res.status).toBe(200);
    const { rows } = await t.ward.db.query<{ dump: string }>(
      "SELECT string_agg(encode(id_hash, 'hex') || encode(payload, 'escape') || coalesce(client_id, ''), ' ') AS dump FROM ward_oauth_artifact",
    );
    const dump = rows[0]?.dump ?? '';
    expect(dump).toContain(c.clientId);
    expect(dump).not.toContain(res.body.access_token);
    expect(dump).not.toContain(Buffer.from(res.body.access_token).toString('hex'));
    expect(dump).not.toContain('system/Patient.rs');
  });

  const attacks: [string, RegExp, (c: Backend) => Promise<{ scope: string; assertion: string; replayFirst?: boolean }>][] = [
    [
      'a replayed jti',
      /only be used once/,
      async (c) => ({ scope: 'system/Patient.rs', assertion: await assertion(c), replayFirst: true }),
    ],
    [
      'an assertion signed by another key',
      /signature/,
      async (c) => ({
        scope: 'system/Patient.rs',
        assertion: await assertion(c, { key: (await generateKeyPair(c.alg)).privateKey }),
      }),
    ],
    [
      'an expired assertion',
      /exp/,
      async (c) => ({ scope: 'system/Patient.rs', assertion: await assertion(c, { exp: Math.floor(Date.now() / 1000) - 120 }) }),
    ],
    [
      'an assertion that lives longer than five minutes',
      /within five minutes/,
      async (c) => ({ scope: 'system/Patient.rs', assertion: await assertion(c, { exp: Math.floor(Date.now() / 1000) + 3600 }) }),
    ],
    [
      'an assertion for another audience',
      /aud/,
      async (c) => ({ scope: 'system/Patient.rs', assertion: await assertion(c, { aud: 'https://evil.test/token' }) }),
    ],
    [
      'a scope beyond the client ceiling',
      /beyond the client ceiling/,
      async (c) => ({ scope: 'system/Patient.cruds', assertion: await assertion(c) }),
    ],
    [
      'a resource type outside the ceiling',
      /beyond the client ceiling/,
      async (c) => ({ scope: 'system/Observation.rs', assertion: await assertion(c) }),
    ],
    ['a patient/ scope', /system\/ scopes only/, async (c) => ({ scope: 'patient/Patient.rs', assertion: await assertion(c) })],
  ];

  it.each(attacks)(
    '170.315(g)(10)(v)(B) · 170.315(d)(1): refuses a token request with %s, audited with the client id and the reason',
    async (_name, reason, make) => {
      const c = await register('ES384', 'system/Patient.rs');
      const attack = await make(c);
      if (attack.replayFirst) expect((await tokenRequest(attack.scope, attack.assertion)).status).toBe(200);
      const before = await lastAuditSeq(t.ward);
      const res = await tokenRequest(attack.scope, attack.assertion);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(['invalid_client', 'invalid_scope']).toContain(res.body.error);
      expect(res.body.access_token).toBeUndefined();
      const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ action: 'token-denied', who: { clientId: c.clientId }, outcome: { status: res.status } });
      expect(rows[0].detail.reason).toMatch(reason);
    },
  );

  it('170.315(g)(10)(vi) · 170.315(d)(1): a suspended client gets no token, and the token it already holds stops working at once', async () => {
    const c = await register('ES384', 'system/Patient.rs');
    const issued = await tokenRequest('system/Patient.rs', await assertion(c));
    const api = fhirClient(t, issued.body.access_token);
    expect((await api.get(`Patient/${patientId}`)).status).toBe(200);
    const before = await lastAuditSeq(t.ward);
    const out = await suspendClient(t.ward, operatorPrincipal('test'), operatorContext('cli'), c.clientId);
    expect(out).toContain('suspended');
    const after = await api.get(`Patient/${patientId}`);
    expect(after.status).toBe(401);
    expect(after.raw.body).not.toContain('Backend-Secretname');
    const refused = await tokenRequest('system/Patient.rs', await assertion(c));
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows.map((e) => e.action)).toEqual(['client-suspend', 'request', 'token-denied']);
    expect(rows[0].detail).toMatchObject({ clientId: c.clientId, previousState: 'approved' });
    expect(rows[2].who.clientId).toBe(c.clientId);
  });
});

describe('ward client create, approve and suspend (the CLI)', () => {
  it('170.315(g)(10)(v)(B) · 170.315(g)(10)(vi) app governance: registers a backend client from a JWKS file, prints its client_id alone last, refuses a private key, suspends it; registers one --pending, approves it, and refuses to approve it once suspended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-client-cli-'));
    try {
      // On PostgreSQL when the run has it: each CLI run then opens the store in a moment, where a
      // fresh embedded database takes long to initialise on a loaded machine.
      const databaseUrl = engines().includes('postgres') ? await createTestDatabase() : undefined;
      const env = {
        WARD_DATA_DIR: join(dir, 'data'),
        WARD_BASE_URL: 'https://ward.test',
        WARD_LOG_LEVEL: 'silent',
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      };
      const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
      writeFileSync(join(dir, 'public.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384' }] }));
      writeFileSync(join(dir, 'private.json'), JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES384' }] }));
      const created = runWard(
        ['client', 'create', '--name', 'Lab feed', '--jwks-file', join(dir, 'public.json'), '--scope', 'system/Patient.rs'],
        env,
      );
      expect(created.status, created.stderr).toBe(0);
      const clientId = created.stdout.trim().split('\n').at(-1) ?? '';
      expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
      const leaked = runWard(
        ['client', 'create', '--name', 'Oops', '--jwks-file', join(dir, 'private.json'), '--scope', 'system/Patient.rs'],
        env,
      );
      expect(leaked.status).toBe(1);
      expect(leaked.stderr).toContain('private key material');
      const suspended = runWard(['client', 'suspend', clientId], env);
      expect(suspended.status, suspended.stderr).toBe(0);
      expect(suspended.stdout).toContain(`client ${clientId} suspended`);
      const pending = runWard(
        ['client', 'create', '--pending', '--name', 'Vendor', '--jwks-file', join(dir, 'public.json'), '--scope', 'system/Patient.rs'],
        env,
      );
      expect(pending.status, pending.stderr).toBe(0);
      const pendingId = pending.stdout.trim().split('\n').at(-1) ?? '';
      expect(pending.stdout).toContain(`pending approval: ward client approve ${pendingId}`);
      const approved = runWard(['client', 'approve', pendingId], env);
      expect(approved.status, approved.stderr).toBe(0);
      expect(approved.stdout.trim()).toBe(`client ${pendingId} approved`);
      const afterSuspend = runWard(['client', 'approve', clientId], env);
      expect(afterSuspend.status).toBe(1);
      expect(afterSuspend.stderr).toContain('WARD_CLIENT_SUSPENDED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Each run opens (and the first migrates) an embedded database in its own process.
  }, 300_000);
});
