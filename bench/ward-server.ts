/** Starting Ward for the benchmark: ports, configuration, and the clinician's token. */
import { createServer } from 'node:net';
import { loadConfig, type WardConfig } from '../src/app/config.js';
import { createToken, operatorContext, operatorPrincipal } from '../src/app/operator-commands.js';
import type { RunningServer } from '../src/app/server.js';
import { BENCH_UNIT } from './population.js';

export const HOST = '127.0.0.1';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Forwarded to Ward when set, so that the bench can be run with other pool or batch sizes. */
function wardTuning(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['WARD_DB_POOL_SIZE', 'WARD_AUDIT_MAX_BATCH']) {
    const v = process.env[k];
    if (v) out[k] = v;
  }
  return out;
}

export function wardConfig(dataDir: string, databaseUrl: string, port: number, tls: boolean): WardConfig {
  return loadConfig(
    {
      WARD_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      WARD_HOST: HOST,
      WARD_PORT: String(port),
      WARD_LOG_LEVEL: 'warn',
      ...(tls ? {} : { WARD_INSECURE_HTTP: '1' }),
      ...wardTuning(),
    },
    dataDir,
  );
}

export async function mintToken(server: RunningServer): Promise<string> {
  return createToken(server.ward, operatorPrincipal('bench'), operatorContext('cli'), {
    roles: ['physician'],
    sub: 'Practitioner/bench',
    scope: 'user/*.cruds',
    ttl: '6h',
    // Reads are measured as a clinician's, relationship lookup included.
    organization: BENCH_UNIT,
  });
}

export const fhirHeaders = (token: string, withBody: boolean): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  accept: 'application/fhir+json',
  ...(withBody ? { 'content-type': 'application/fhir+json' } : {}),
});
