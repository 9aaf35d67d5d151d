#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { adminSocketPath, callAdminChannel } from '../app/admin-channel.js';
import { loadConfig, type WardConfig } from '../app/config.js';
import { createToken, OperatorCommandError, operatorContext, operatorPrincipal } from '../app/operator-commands.js';
import { startServer } from '../app/server.js';
import { openWard } from '../app/ward.js';
import { migrate } from '../store/index.js';

const USAGE = `usage: ward <command>

  start                         serve the FHIR API (HTTPS on WARD_HOST:WARD_PORT)
  migrate                       apply database migrations and provision the serving role
  token create --role <role> --sub <principal> --scope "<SMART v2 scopes>" [--patient <id>] [--ttl 15m]
                [--purpose-of-use <HL7 v3 PurposeOfUse code; TREAT when absent>]
                                mint an access token (printed alone on stdout; the minting is audited)
`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  const config = loadConfig(process.env);
  switch (command) {
    case 'start':
      return start(config);
    case 'migrate':
      return runMigrate(config);
    case 'token':
      if (sub === 'create') return tokenCreate(config, rest);
      break;
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command ? 0 : 2;
  }
  process.stderr.write(USAGE);
  return 2;
}

async function start(config: WardConfig): Promise<number> {
  const server = await startServer(config);
  const fhirBase = `${server.url}/fhir`;
  const here = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : `./${relative(process.cwd(), p)}`);
  const lines = [
    '',
    `Ward ${server.ward.db.engine === 'pglite' ? `on embedded PGlite in ${here(config.dataDir)}` : 'on PostgreSQL'} is serving FHIR R4 at ${fhirBase}`,
    ...(server.caCertPath
      ? [
          `  TLS 1.3 with a development certificate; trust its CA:  export NODE_EXTRA_CA_CERTS=${here(server.caCertPath)}`,
          `  Check it:      curl --cacert ${here(server.caCertPath)} ${fhirBase}/metadata`,
        ]
      : [`  Check it:      curl ${fhirBase}/metadata`]),
    `  Get a token:   npx ward token create --role physician --sub Practitioner/example --scope "user/*.cruds"`,
    `  Then:          curl ${server.caCertPath ? `--cacert ${here(server.caCertPath)} ` : ''}-H "Authorization: Bearer $TOKEN" ${fhirBase}/Patient/<id>`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.stop();
  return 0;
}

async function runMigrate(config: WardConfig): Promise<number> {
  if (!config.databaseUrl && serverRunning(config)) {
    process.stderr.write('the server is running and migrated this data directory at start; nothing to do\n');
    return 0;
  }
  const ward = await openWard(config, { migrate: true });
  const { applied } = await migrate(ward.db);
  const versions = (await ward.db.query<{ version: number }>('SELECT version FROM ward_migration ORDER BY version')).rows.map(
    (r) => r.version,
  );
  await ward.vault.recordAdministrative(operatorPrincipal(), operatorContext('cli'), 'migrate', {
    status: 200,
    detail: { schema: versions.join(' '), applied: applied.join(' ') || 'none pending' },
  });
  await ward.close();
  process.stderr.write('migrations are up to date\n');
  return 0;
}

async function tokenCreate(config: WardConfig, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string', multiple: true },
      sub: { type: 'string' },
      scope: { type: 'string' },
      patient: { type: 'string' },
      ttl: { type: 'string' },
      'purpose-of-use': { type: 'string' },
    },
    strict: true,
  });
  if (!values.role?.length || !values.sub || !values.scope) {
    process.stderr.write('token create needs --role, --sub and --scope\n');
    return 2;
  }
  const args = {
    roles: values.role.flatMap((r) => r.split(',')),
    sub: values.sub,
    scope: values.scope,
    ...(values.patient ? { patient: values.patient } : {}),
    ...(values.ttl ? { ttl: values.ttl } : {}),
    ...(values['purpose-of-use'] ? { purposeOfUse: values['purpose-of-use'] } : {}),
  };
  // While a server owns the embedded database, ask it over the admin channel.
  const viaServer = config.databaseUrl
    ? undefined
    : await callAdminChannel(adminSocketPath(config.dataDir), {
        command: 'token-create',
        operator: operatorPrincipal().id.slice('operator:'.length),
        args,
      });
  if (viaServer) {
    if (!viaServer.ok) {
      process.stderr.write(`${viaServer.error}\n`);
      return 1;
    }
    process.stdout.write(`${viaServer.output}\n`);
    return 0;
  }
  if (!config.databaseUrl && serverRunning(config)) {
    process.stderr.write('a Ward server owns this data directory but its admin channel does not answer\n');
    return 1;
  }
  const ward = await openWard(config, { migrate: true });
  try {
    process.stdout.write(`${await createToken(ward, operatorPrincipal(), operatorContext('cli'), args)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof OperatorCommandError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await ward.close();
  }
}

function serverRunning(config: WardConfig): boolean {
  const pidFile = join(config.dataDir, 'server.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Configuration mistakes are TypeErrors with an operator-facing message; anything else is a bug.
    process.stderr.write(
      e instanceof TypeError ? `ward: ${e.message}\n` : `ward: failed: ${(e as Error)?.name ?? 'error'}\n${(e as Error)?.stack ?? ''}\n`,
    );
    process.exitCode = 1;
  },
);
