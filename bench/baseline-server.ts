import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';
import { type AuditEntry, AuditLog } from '../src/audit/index.js';
import { openPostgres } from '../src/store/index.js';
import type { Json } from './population.js';

/**
 * The bare baseline: what a minimal JSON-over-PostgreSQL server costs on this machine. Fastify and
 * a pg pool (same size as Ward's), one plain table, no authentication, policy, audit, encryption,
 * validation or versioning. Ward's figures are read as a fraction of these.
 */
export interface BaselineServer {
  readonly url: string;
  /** Loads bodies (each with an id) into the table. */
  load(bodies: readonly Json[]): Promise<void>;
  stop(): Promise<void>;
}

const TABLE = 'bench_baseline_observation';

export async function startBaselineServer(options: {
  databaseUrl: string;
  poolSize: number;
  host: string;
  port: number;
}): Promise<BaselineServer> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize, application_name: 'ward-bench-baseline' });
  pool.on('error', () => undefined);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id text PRIMARY KEY, body jsonb NOT NULL)`);

  // The same grouped audit writer Ward uses, over its own small pool: the audited read pays
  // exactly Ward's audit append (one durable entry per read) and nothing else of Ward's.
  const auditDb = openPostgres(options.databaseUrl, { max: 4, applicationName: 'ward-bench-baseline-audit' });
  const audit = new AuditLog(auditDb, { maxBatch: 500 });

  const app = Fastify({ logger: false });
  app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  // Read by primary key: one SELECT, the jsonb parsed by pg and serialised by Fastify.
  app.get<{ Params: { id: string } }>('/Observation/:id', async (request, reply) => {
    const { rows } = await pool.query<{ body: Json }>(`SELECT body FROM ${TABLE} WHERE id = $1`, [request.params.id]);
    const row = rows[0];
    if (!row) return reply.code(404).send({ error: 'not found' });
    return reply.type('application/fhir+json; charset=utf-8').send(row.body);
  });

  // The same read, answered only after its audit entry is committed, as Ward answers reads.
  app.get<{ Params: { id: string } }>('/audited/Observation/:id', async (request, reply) => {
    const { rows } = await pool.query<{ body: Json }>(`SELECT body FROM ${TABLE} WHERE id = $1`, [request.params.id]);
    const row = rows[0];
    await audit.record(readEntry(request.params.id, row ? 200 : 404, request.ip));
    if (!row) return reply.code(404).send({ error: 'not found' });
    return reply.type('application/fhir+json; charset=utf-8').send(row.body);
  });

  // Bare insert: one autocommitted INSERT of the parsed body under a server-assigned id.
  app.post<{ Body: Json }>('/Observation', async (request, reply) => {
    const body = { ...request.body, id: randomUUID() };
    await pool.query(`INSERT INTO ${TABLE} (id, body) VALUES ($1, $2)`, [body.id, JSON.stringify(body)]);
    return reply.code(201).type('application/fhir+json; charset=utf-8').send(body);
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    async load(bodies) {
      for (let i = 0; i < bodies.length; i += 500) {
        const chunk = bodies.slice(i, i + 500);
        await pool.query(`INSERT INTO ${TABLE} (id, body) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (id) DO NOTHING`, [
          chunk.map((b) => b.id),
          chunk.map((b) => JSON.stringify(b)),
        ]);
      }
      await pool.query(`ANALYZE ${TABLE}`);
    },
    async stop() {
      await app.close();
      await audit.close();
      await auditDb.close();
      await pool.end();
    },
  };
}

/** An entry shaped like Ward's for a read (who, what, where, decision, outcome; no contents). */
function readEntry(id: string, status: number, address: string): AuditEntry {
  return {
    time: new Date().toISOString(),
    who: { id: 'Practitioner/bench', kind: 'user', roles: ['physician'], clientId: 'ward-cli', scopes: 'user/*.cruds' },
    action: 'read',
    resourceType: 'Observation',
    resourceId: id,
    where: { address, listener: 'http', method: 'GET', route: '/audited/Observation/:id' },
    purposeOfUse: 'TREAT',
    decision: { effect: 'permit', reasons: ['role physician may read Observation', 'scope user/*.cruds'] },
    outcome: { status },
  };
}
