#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { type AdminRequest, adminSocketPath, callAdminChannel } from '../app/admin-channel.js';
import {
  type AuditArchiveArgs,
  type AuditArchiveResult,
  auditArchive,
  auditPartitions,
  type PartitionsReport,
} from '../app/audit-archive-commands.js';
import { type AuditVerifyArgs, auditProve, auditVerify } from '../app/audit-commands.js';
import { approveClient, type ClientCreateArgs, createClient, suspendClient } from '../app/client-commands.js';
import { complianceReport } from '../app/compliance-commands.js';
import { loadConfig, type WardConfig } from '../app/config.js';
import { createToken, OperatorCommandError, operatorContext, operatorPrincipal } from '../app/operator-commands.js';
import { startServer } from '../app/server.js';
import {
  createUser,
  deactivateUser,
  grantRole,
  markCompromised,
  reactivateUser,
  revokeRole,
  type UserCreateArgs,
  unlockUser,
} from '../app/user-commands.js';
import { openWard, type Ward } from '../app/ward.js';
import { describeFault, type VerifyReport } from '../audit/index.js';
import { runImport, runMigrate, runReindex, serverRunning } from './data-jobs.js';

const USAGE = `usage: ward <command>

  start                         serve the FHIR API (HTTPS on WARD_HOST:WARD_PORT)
  migrate                       apply database migrations and provision the serving role
  token create --role <role> --sub <principal> --scope "<SMART v2 scopes>" [--patient <id>] [--ttl 15m]
                [--purpose-of-use <HL7 v3 PurposeOfUse code; TREAT when absent>] [--organization Organization/<id>]
                                mint an access token (printed alone on stdout; the minting is audited)
  audit verify [--witness <file> | --no-witness] [--public-key <pem>] [--archives <dir>] [--json]
                                check every audit entry, the Merkle tree, each signed head, the
                                witness and (with --archives) every archive; exits 0 when all holds,
                                1 naming each fault
  audit prove <entry number>    print an inclusion proof of one entry against the newest signed head
  audit archive --before <YYYY-MM-DD> --out <dir>
                                export each month partition older than the date and the retention
                                period with its inclusion proofs, check the files, then drop it
  audit partitions              create the coming months' audit partitions (as the owner) and list them
  user create --username <u> --name "<display name>" --role <role> [--role <role> …]
              [--practitioner Practitioner/<id> | --patient <Patient id>] [--organization Organization/<id>]
              [--expires 72h]   create an account; prints its single-use enrollment link, the code alone last
  user deactivate <username>    refuse the account's logins from now on
  user unlock <username>        lift a login lock or back-off (after 100 failures an account stays locked until this)
  user reactivate <username>    let a deactivated account log in again
  user mark-compromised <username>
                                treat a workforce account's password as known to others: its sessions and
                                tokens end now, and its next login (password and second factor) must change it
  user grant-role <username> <role>
  user revoke-role <username> <role>
                                change an account's roles (audited with the roles before and after; ends its sessions)
  compliance report             print the compliance report as JSON ((d)(13): where MFA is used; audited)
  client create --name <name> (--jwks-file <public JWKS file> | --jwks-url <https URL>) --scope "<allowed scopes>"
                [--owner <who answers for it>] [--purpose "<why it needs the data>"] [--redirect-uri <uri> …]
                [--pending]
                                register a client app, approved at once (with --pending: held for review, no
                                token until approved); prints its client_id alone last
  client approve <client_id>    approve a pending client (approving an approved one changes nothing; a
                                suspended one is refused: register it again)
  client suspend <client_id>    stop a client now: its tokens stop working and it gets no new ones
  import [--concurrency N] <file or dir> …
                                load FHIR Bundles (transaction, batch, collection) and NDJSON through the vault as
                                the audited import principal; resumable (ids are preserved, progress is recorded);
                                N files at once (default 2 on PostgreSQL, 1 on PGlite)
  reindex [--type <T>]          recompute the search-index rows of current versions; resumable
`;

/** Prints a command's result on stdout (exit status 0). */
function print(output: string): number {
  process.stdout.write(`${output}\n`);
  return 0;
}

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
    case 'client':
      return client(config, sub, rest);
    case 'compliance':
      if (sub === 'report' && rest.length === 0)
        return operatorCommand(
          config,
          { command: 'compliance-report', operator: operatorName() },
          (ward) => complianceReport(ward, operatorPrincipal(), operatorContext('cli')),
          print,
        );
      break;
    case 'import':
      return runImport(
        config,
        [sub, ...rest].filter((a): a is string => a !== undefined),
      );
    case 'reindex':
      return runReindex(
        config,
        [sub, ...rest].filter((a): a is string => a !== undefined),
      );
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
        archives: { type: 'string' },
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
      ...(values.archives ? { archivesDir: resolve(values.archives) } : {}),
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
  if (sub === 'archive') {
    const { values } = parseArgs({ args: argv, options: { before: { type: 'string' }, out: { type: 'string' } }, strict: true });
    if (!values.before || !values.out) {
      process.stderr.write('usage: ward audit archive --before <YYYY-MM-DD> --out <dir>\n');
      return 2;
    }
    const args: AuditArchiveArgs = { before: values.before, outDir: resolve(values.out) };
    return operatorCommand(
      config,
      { command: 'audit-archive', operator: operatorName(), args },
      async (ward) => JSON.stringify(await auditArchive(ward, operatorPrincipal(), operatorContext('cli'), args)),
      (output) => {
        const result = JSON.parse(output) as AuditArchiveResult;
        const lines = [
          ...result.archived.map(
            (a) =>
              `archived ${a.partition}: ${a.entries} entries${a.firstSeq !== null ? ` (${a.firstSeq}-${a.lastSeq})` : ''}, proofs against the head of tree size ${a.treeSize}, sha256 ${a.sha256}\n  ${a.files.join('\n  ')}`,
          ),
          result.archived.length === 0
            ? `no audit partition ended before ${result.before}`
            : `archived ${result.archived.length} partition(s)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      },
    );
  }
  if (sub === 'partitions' && argv.length === 0) {
    return operatorCommand(
      config,
      { command: 'audit-partitions', operator: operatorName() },
      async (ward) => JSON.stringify(await auditPartitions(ward, operatorPrincipal(), operatorContext('cli'))),
      (output) => {
        const report = JSON.parse(output) as PartitionsReport;
        const lines = [
          ...report.partitions.map((p) => `${p.name}  ${p.from.slice(0, 10)} .. ${p.to.slice(0, 10)}  ${p.entries} entries`),
          `created ${report.created} new partition(s); the default partition holds ${report.defaultPartitionRows} row(s)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      },
    );
  }
  process.stderr.write(USAGE);
  return 2;
}

async function user(config: WardConfig, sub: string | undefined, argv: string[]): Promise<number> {
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
  if ((sub === 'deactivate' || sub === 'unlock' || sub === 'reactivate' || sub === 'mark-compromised') && argv.length === 1 && argv[0]) {
    const username = argv[0];
    const run = { deactivate: deactivateUser, unlock: unlockUser, reactivate: reactivateUser, 'mark-compromised': markCompromised }[sub];
    return operatorCommand(
      config,
      { command: `user-${sub}`, operator: operatorName(), username },
      (ward) => run(ward, operatorPrincipal(), operatorContext('cli'), username),
      print,
    );
  }
  if ((sub === 'grant-role' || sub === 'revoke-role') && argv.length === 2 && argv[0] && argv[1]) {
    const [username, role] = [argv[0], argv[1]];
    const run = sub === 'grant-role' ? grantRole : revokeRole;
    return operatorCommand(
      config,
      { command: `user-${sub}`, operator: operatorName(), username, role },
      (ward) => run(ward, operatorPrincipal(), operatorContext('cli'), username, role),
      print,
    );
  }
  process.stderr.write(USAGE);
  return 2;
}

async function client(config: WardConfig, sub: string | undefined, argv: string[]): Promise<number> {
  if (sub === 'create') {
    const { values } = parseArgs({
      args: argv,
      options: {
        name: { type: 'string' },
        'jwks-file': { type: 'string' },
        'jwks-url': { type: 'string' },
        scope: { type: 'string' },
        owner: { type: 'string' },
        purpose: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        pending: { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.name || !values.scope || (!values['jwks-file'] && !values['jwks-url'] && !values['redirect-uri']?.length)) {
      process.stderr.write('client create needs --name, --scope and --jwks-file (or --jwks-url, or --redirect-uri for a public app)\n');
      return 2;
    }
    const args: ClientCreateArgs = {
      name: values.name,
      scope: values.scope,
      ...(values['jwks-file'] ? { jwks: readFileSync(values['jwks-file'], 'utf8') } : {}),
      ...(values['jwks-url'] ? { jwksUri: values['jwks-url'] } : {}),
      ...(values.owner ? { owner: values.owner } : {}),
      ...(values.purpose ? { purpose: values.purpose } : {}),
      ...(values['redirect-uri']?.length ? { redirectUris: values['redirect-uri'] } : {}),
      ...(values.pending ? { pending: true } : {}),
    };
    return operatorCommand(
      config,
      { command: 'client-create', operator: operatorName(), args },
      (ward) => createClient(ward, operatorPrincipal(), operatorContext('cli'), args),
      print,
    );
  }
  if (sub === 'approve' && argv.length === 1 && argv[0]) {
    const clientId = argv[0];
    return operatorCommand(
      config,
      { command: 'client-approve', operator: operatorName(), clientId },
      (ward) => approveClient(ward, operatorPrincipal(), operatorContext('cli'), clientId),
      print,
    );
  }
  if (sub === 'suspend' && argv.length === 1 && argv[0]) {
    const clientId = argv[0];
    return operatorCommand(
      config,
      { command: 'client-suspend', operator: operatorName(), clientId },
      (ward) => suspendClient(ward, operatorPrincipal(), operatorContext('cli'), clientId),
      print,
    );
  }
  process.stderr.write(USAGE);
  return 2;
}

function renderVerifyReport(report: VerifyReport): string {
  const lines = [
    `audit log: ${report.entries} entries${report.archivedEntries > 0 ? ` (and ${report.archivedEntries} archived)` : ''}, ${report.heads} signed heads, tree size ${report.treeSize}${report.newestHeadAt ? ` (newest head ${report.newestHeadAt})` : ''}, ${report.unsealedEntries} not sealed yet`,
    ...report.archives.map(
      (a) =>
        `archived: ${a.partition} (${a.from.slice(0, 10)} .. ${a.to.slice(0, 10)}), ${a.entries} entries${a.firstSeq !== null ? ` ${a.firstSeq}-${a.lastSeq}` : ''}, exported ${a.archivedAt} to ${a.file} (sha256 ${a.sha256}); checked through their kept leaf hashes`,
    ),
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
