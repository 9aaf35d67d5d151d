import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openWard } from '../../src/app/ward.js';
import { auditRowsAfter } from '../support/audit-rows.js';
import { rewriteReferences, syntheaBundles, syntheaPhiStrings } from '../support/synthea.js';
import { httpsCall, readCa, runWard, startWardProcess, type WardProcess } from '../support/ward-process.js';

/**
 * The newcomer's path: `ward start` on a fresh data directory serves FHIR over TLS 1.3 on the
 * embedded database, creates its keys and certificate once, and reuses them on restart.
 */
describe('ward start on embedded PGlite', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-proc-'));
  const env = { WARD_DATA_DIR: dataDir, WARD_PORT: '0', WARD_LOG_LEVEL: 'info' };
  let ward: WardProcess;
  let ca: string;
  let logs = '';

  beforeAll(async () => {
    ward = await startWardProcess(env);
    ca = readCa(dataDir);
  }, 90_000);
  afterAll(async () => {
    await ward?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the root key (0600), the Ed25519 audit signing key and a local CA certificate on first start', () => {
    expect(statSync(join(dataDir, 'keys', 'root.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, 'keys', 'audit-signing.pem'), 'utf8')).toContain('PRIVATE KEY');
    expect(statSync(join(dataDir, 'keys', 'audit-signing.pem')).mode & 0o777).toBe(0o600);
    expect(ca).toContain('BEGIN CERTIFICATE');
    expect(ward.output()).toContain('NODE_EXTRA_CA_CERTS=');
  });

  it('164.312(e)(1) · (e)(2)(ii): serves /fhir/metadata over TLS 1.3 with HSTS of at least a year', async () => {
    const res = await httpsCall(`${ward.url}/fhir/metadata`, { ca });
    expect(res.status).toBe(200);
    expect(res.protocol).toBe('TLSv1.3');
    expect(JSON.parse(res.body).resourceType).toBe('CapabilityStatement');
    const hsts = String(res.headers['strict-transport-security']);
    expect(Number(/max-age=(\d+)/.exec(hsts)?.[1])).toBeGreaterThanOrEqual(31_536_000);
  });

  it('164.312(e)(1): refuses a client limited to TLS 1.2', async () => {
    const { port, hostname } = new URL(ward.url);
    const error = await new Promise<Error | null>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port), ca, maxVersion: 'TLSv1.2', servername: 'localhost' }, () => {
        socket.end();
        resolve(null);
      });
      socket.on('error', resolve);
    });
    expect(error).not.toBeNull();
    await expect(httpsCall(`${ward.url}/fhir/metadata`, { ca, maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });

  it('164.312(d): /fhir/Patient without a token is 401 with an OperationOutcome', async () => {
    const res = await httpsCall(`${ward.url}/fhir/Patient`, { ca });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).resourceType).toBe('OperationOutcome');
  });

  it('ward token create reaches the running server through the admin channel and prints only the token', async () => {
    const r = runWard(
      ['token', 'create', '--role', 'physician', '--sub', 'Practitioner/cli-1', '--scope', 'user/*.cruds', '--ttl', '30m'],
      env,
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const res = await httpsCall(`${ward.url}/fhir/Patient/none`, { ca, headers: { authorization: `Bearer ${r.stdout.trim()}` } });
    expect(res.status).toBe(404);
    const bad = runWard(['token', 'create', '--role', 'wizard', '--sub', 'Practitioner/cli-1', '--scope', 'user/*.rs'], env);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toBe('');
  });

  it('164.306(a)(1): a Synthea workload, good and bad requests, leaves no fixture PHI in the log output', async () => {
    const token = runWard(['token', 'create', '--role', 'system', '--sub', 'system', '--scope', 'system/*.cruds'], env).stdout.trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    for (const bundle of syntheaBundles().slice(0, 3)) {
      const assigned = new Map<string, string>();
      for (const entry of bundle.entries.slice(0, 40)) {
        const { id: _id, ...body } = rewriteReferences(entry.resource, assigned);
        const res = await httpsCall(`${ward.url}/fhir/${body.resourceType}`, {
          ca,
          method: 'POST',
          headers: auth,
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(201);
        const created = JSON.parse(res.body);
        assigned.set(entry.fullUrl, `${body.resourceType}/${created.id}`);
        if (body.resourceType === 'Patient') {
          // Identifying values in queries, invalid bodies and malformed JSON must not reach the log either.
          const mrn = body.identifier?.[1]?.value ?? body.identifier?.[0]?.value;
          await httpsCall(`${ward.url}/fhir/Patient?identifier=${encodeURIComponent(mrn)}`, { ca, headers: auth });
          await httpsCall(`${ward.url}/fhir/Patient?name=${encodeURIComponent(body.name[0].family)}`, { ca, headers: auth });
          await httpsCall(`${ward.url}/fhir/Patient`, {
            ca,
            method: 'POST',
            headers: auth,
            body: JSON.stringify({ ...body, gender: body.name[0].family }),
          });
          await httpsCall(`${ward.url}/fhir/Patient`, {
            ca,
            method: 'POST',
            headers: auth,
            body: `{"resourceType":"Patient","name":"${body.name[0].family}`,
          });
          await httpsCall(`${ward.url}/fhir/Patient/${encodeURIComponent(body.name[0].family)}`, { ca, headers: auth });
        }
      }
    }
    logs = ward.output();
    expect(logs).toContain('"msg":"request"');
    const leaked = syntheaPhiStrings().filter((s) => logs.includes(s));
    expect(leaked).toEqual([]);
  }, 120_000);

  it('reuses its keys and certificate on restart, and the data is still readable', async () => {
    const rootKey = readFileSync(join(dataDir, 'keys', 'root.key'));
    const token = runWard(
      ['token', 'create', '--role', 'physician', '--sub', 'Practitioner/r-1', '--scope', 'user/*.cruds'],
      env,
    ).stdout.trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    const created = JSON.parse(
      (
        await httpsCall(`${ward.url}/fhir/Basic`, {
          ca,
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ resourceType: 'Basic', code: { text: 'restart' } }),
        })
      ).body,
    );
    expect(await ward.stop()).toBe(0);
    ward = await startWardProcess(env);
    expect(readFileSync(join(dataDir, 'keys', 'root.key'))).toEqual(rootKey);
    expect(readCa(dataDir)).toBe(ca);
    const again = await httpsCall(`${ward.url}/fhir/Basic/${created.id}`, { ca, headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body).code.text).toBe('restart');
  }, 120_000);

  it('audits each token the operator minted, without the token itself', async () => {
    expect(await ward.stop()).toBe(0);
    const w = await openWard(loadConfig(env), { migrate: true });
    try {
      const rows = (await auditRowsAfter(w)).filter((r) => r.action === 'token-create');
      expect(rows.length).toBeGreaterThanOrEqual(4);
      expect(rows.some((r) => r.parsed.where.listener === 'admin-socket' && r.parsed.outcome.status === 201)).toBe(true);
      expect(rows.some((r) => r.parsed.outcome.status === 400)).toBe(true);
      for (const r of rows) expect(r.entry).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    } finally {
      await w.close();
    }
  }, 60_000);
});
