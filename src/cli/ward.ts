#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { type AdminRequest, adminSocketPath, callAdminChannel } from '../app/admin-channel.js';
import { type AuditVerifyArgs, auditProve, auditVerify } from '../app/audit-commands.js';
import { loadConfig, type WardConfig } from '../app/config.js';
import { createToken, OperatorCommandError, operatorContext, operatorPrincipal } from '../app/operator-commands.js';
import { startServer } from '../app/server.js';
import { createUser, deactivateUser, type UserCreateArgs, unlockUser } from '../app/user-commands.js';
import { openWard, type Ward } from '../app/ward.js';
import { describeFault, type VerifyReport } from '../audit/index.js';
import { migrate } from '../store/index.js';

const USAGE = `usage: ward <command>

  start                         serve the FHIR API (HTTPS on WARD_HOST:WARD_PORT)
  migrate                       apply database migrations and provision the serving role
  token create --role <role> --sub <principal> --scope "<SMART v2 scopes>" [--patient <id>] [--ttl 15m]
                [--purpose-of-use <HL7 v3 PurposeOfUse code; TREAT when absent>] [--organization Organization/<id>]
                                mint an access token (printed alone on stdout; the minting is audited)
  audit verify [--witness <file> | --no-witness] [--public-key <pem>] [--json]
                                check every audit entry, the Merkle tree, each signed head and the
                                witness; exits 0 when all holds, 1 naming each fault
  audit prove <entry number>    print an inclusion proof of one entry against the newest signed head
  user create --username <u> --name "<display name>" --role <role> [--role <role> …]
              [--practitioner Practitioner/<id> | --patient <Patient id>] [--organization Organization/<id>]
              [--expires 72h]   create an account; prints its single-use enrollment link, the code alone last
  user deactivate <username>    refuse the account's logins from now on
  user unlock <username>        lift a login lock or back-off (after 100 failures an account stays locked until this)
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
    case 'audit':
      return audit(config, sub, rest);
    case 'user':
      return user(config, sub, rest);
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
      organization: { type: 'string' },
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
    ...(values.organization ? { organization: values.organization } : {}),
  };
  return operatorCommand(
    config,
    { command: 'token-create', operator: operatorName(), args },
    (ward) => createToken(ward, operatorPrincipal(), operatorContext('cli'), args),
    (token) => {
      process.stdout.write(`${token}\n`);
      return 0;
    },
  );
}

async function audit(config: WardConfig, sub: string | undefined, argv: string[]): Promise<number> {
  if (sub === 'verify') {
    const { values } = parseArgs({
      args: argv,
      options: {
        witness: { type: 'string' },
        'no-witness': { type: 'boolean' },
        'public-key': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.witness && values['no-witness']) {
      process.stderr.write('give --witness <file> or --no-witness, not both\n');
      return 2;
    }
    const args: AuditVerifyArgs = {
      ...(values['no-witness'] ? { witnessFile: null } : values.witness ? { witnessFile: resolve(values.witness) } : {}),
      ...(values['public-key'] ? { publicKeyPem: readFileSync(values['public-key'], 'utf8') } : {}),
    };
    const bar = process.stderr.isTTY
      ? new SingleBar({ format: 'verifying {bar} {value}/{total} entries', hideCursor: true }, Presets.shades_classic)
      : undefined;
    return operatorCommand(
      config,
      { command: 'audit-verify', operator: operatorName(), args },
      async (ward) => {
        bar?.start(1, 0);
        try {
          return JSON.stringify(
            await auditVerify(ward, operatorPrincipal(), operatorContext('cli'), args, (done, total) => {
              bar?.setTotal(Math.max(total, 1));
              bar?.update(done);
            }),
          );
        } finally {
          bar?.stop();
        }
      },
      (output) => {
        const report = JSON.parse(output) as VerifyReport;
        process.stdout.write(values.json ? `${output}\n` : renderVerifyReport(report));
        return report.ok ? 0 : 1;
      },
    );
  }
  if (sub === 'prove') {
    const seq = Number(argv[0]);
    if (argv.length !== 1 || !Number.isSafeInteger(seq) || seq < 1) {
      process.stderr.write('usage: ward audit prove <entry number>\n');
      return 2;
    }
    return operatorCommand(
      config,
      { command: 'audit-prove', operator: operatorName(), seq },
      async (ward) => JSON.stringify(await auditProve(ward, operatorPrincipal(), operatorContext('cli'), seq), null, 2),
      (output) => {
        process.stdout.write(`${output}\n`);
        return 0;
      },
    );
  }
  process.stderr.write(USAGE);
  return 2;
}

async function user(config: WardConfig, sub: string | undefined, argv: string[]): Promise<number> {
  const print = (output: string) => {
    process.stdout.write(`${output}\n`);
    return 0;
  };
  if (sub === 'create') {
    const { values } = parseArgs({
      args: argv,
      options: {
        username: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string', multiple: true },
        organization: { type: 'string' },
        practitioner: { type: 'string' },
        patient: { type: 'string' },
        expires: { type: 'string' },
      },
      strict: true,
    });
    if (!values.username || !values.name || !values.role?.length) {
      process.stderr.write('user create needs --username, --name and --role\n');
      return 2;
    }
    const args: UserCreateArgs = {
      username: values.username,
      name: values.name,
      roles: values.role.flatMap((r) => r.split(',')),
      ...(values.organization ? { organization: values.organization } : {}),
      ...(values.practitioner ? { practitioner: values.practitioner } : {}),
      ...(values.patient ? { patient: values.patient } : {}),
      ...(values.expires ? { expires: values.expires } : {}),
    };
    return operatorCommand(
      config,
      { command: 'user-create', operator: operatorName(), args },
      (ward) => createUser(ward, operatorPrincipal(), operatorContext('cli'), args),
      print,
    );
  }
  if ((sub === 'deactivate' || sub === 'unlock') && argv.length === 1 && argv[0]) {
    const username = argv[0];
    const run = sub === 'deactivate' ? deactivateUser : unlockUser;
    return operatorCommand(
      config,
      { command: sub === 'deactivate' ? 'user-deactivate' : 'user-unlock', operator: operatorName(), username },
      (ward) => run(ward, operatorPrincipal(), operatorContext('cli'), username),
      print,
    );
  }
  process.stderr.write(USAGE);
  return 2;
}

function renderVerifyReport(report: VerifyReport): string {
  const lines = [
    `audit log: ${report.entries} entries, ${report.heads} signed heads, tree size ${report.treeSize}${report.newestHeadAt ? ` (newest head ${report.newestHeadAt})` : ''}, ${report.unsealedEntries} not sealed yet`,
    ...(report.witnessedTreeSize !== undefined ? [`witness: newest witnessed head has tree size ${report.witnessedTreeSize}`] : []),
    ...report.faults.map((f) => `FAULT ${describeFault(f)}`),
    report.ok ? 'verified: every entry, head, signature and the witness agree' : `NOT VERIFIED: ${report.faults.length} fault(s)`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Runs an operator command: while a server owns the embedded database, over its admin channel;
 * otherwise by opening the store here. Either way the command is audited.
 */
async function operatorCommand(
  config: WardConfig,
  request: AdminRequest,
  local: (ward: Ward) => Promise<string>,
  print: (output: string) => number,
): Promise<number> {
  const viaServer = config.databaseUrl ? undefined : await callAdminChannel(adminSocketPath(config.dataDir), request);
  if (viaServer) {
    if (!viaServer.ok) {
      process.stderr.write(`${viaServer.error}\n`);
      return 1;
    }
    return print(viaServer.output);
  }
  if (!config.databaseUrl && serverRunning(config)) {
    process.stderr.write('a Ward server owns this data directory but its admin channel does not answer\n');
    return 1;
  }
  const ward = await openWard(config, { migrate: true });
  let output: string;
  try {
    output = await local(ward);
  } catch (e) {
    if (e instanceof OperatorCommandError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await ward.close();
  }
  return print(output);
}

function operatorName(): string {
  return operatorPrincipal().id.slice('operator:'.length);
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
