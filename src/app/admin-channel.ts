import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { type AuditArchiveArgs, auditArchive, auditPartitions } from './audit-archive-commands.js';
import { type AuditVerifyArgs, auditProve, auditVerify } from './audit-commands.js';
import { approveClient, type ClientCreateArgs, createClient, suspendClient } from './client-commands.js';
import { complianceReport } from './compliance-commands.js';
import { createToken, OperatorCommandError, operatorContext, operatorPrincipal, type TokenCreateArgs } from './operator-commands.js';
import {
  createUser,
  deactivateUser,
  grantRole,
  markCompromised,
  reactivateUser,
  revokeRole,
  type UserCreateArgs,
  unlockUser,
} from './user-commands.js';
import type { Ward } from './ward.js';

/**
 * The local admin channel. Embedded PGlite belongs to one process, so while the server runs,
 * operator commands reach it through a Unix socket in the data directory (mode 0600, inside a
 * 0700 directory: only the operator's account can connect) and are audited like any other action.
 */
export type AdminRequest =
  | { command: 'token-create'; operator: string; args: TokenCreateArgs }
  | { command: 'audit-verify'; operator: string; args: AuditVerifyArgs }
  | { command: 'audit-prove'; operator: string; seq: number }
  | { command: 'audit-archive'; operator: string; args: AuditArchiveArgs }
  | { command: 'audit-partitions'; operator: string }
  | { command: 'user-create'; operator: string; args: UserCreateArgs }
  | { command: 'user-deactivate'; operator: string; username: string }
  | { command: 'user-unlock'; operator: string; username: string }
  | { command: 'client-create'; operator: string; args: ClientCreateArgs }
  | { command: 'client-suspend'; operator: string; clientId: string }
  | { command: 'client-approve'; operator: string; clientId: string }
  | { command: 'user-reactivate'; operator: string; username: string }
  | { command: 'user-mark-compromised'; operator: string; username: string }
  | { command: 'compliance-report'; operator: string }
  | { command: 'user-grant-role' | 'user-revoke-role'; operator: string; username: string; role: string }
  | { command: 'ping' };
export type AdminResponse = { ok: true; output: string } | { ok: false; error: string };

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, 'admin.sock');
}

const MAX_REQUEST_BYTES = 64 * 1024;

export async function listenAdminChannel(ward: Ward, path: string): Promise<Server> {
  if (existsSync(path)) {
    if (await isAlive(path)) throw new TypeError(`another Ward server is using ${path}`);
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) return socket.destroy();
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      buffer = '';
      void handle(ward, line).then((response) => socket.end(`${JSON.stringify(response)}\n`));
    });
    socket.on('error', () => undefined);
  });
  // Create the socket 0600 from the start (umask), not only after a chmod that leaves a window.
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  return server;
}

async function handle(ward: Ward, line: string): Promise<AdminResponse> {
  let request: AdminRequest;
  try {
    request = JSON.parse(line) as AdminRequest;
  } catch {
    return { ok: false, error: 'malformed request' };
  }
  try {
    switch (request.command) {
      case 'ping':
        return { ok: true, output: 'pong' };
      case 'token-create':
        return {
          ok: true,
          output: await createToken(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.args),
        };
      case 'audit-verify':
        return {
          ok: true,
          output: JSON.stringify(
            await auditVerify(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.args),
          ),
        };
      case 'audit-prove':
        return {
          ok: true,
          output: JSON.stringify(await auditProve(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.seq)),
        };
      case 'audit-archive':
        return {
          ok: true,
          output: JSON.stringify(
            await auditArchive(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.args),
          ),
        };
      case 'audit-partitions':
        return {
          ok: true,
          output: JSON.stringify(await auditPartitions(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'))),
        };
      case 'user-create':
        return {
          ok: true,
          output: await createUser(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.args),
        };
      case 'user-grant-role':
      case 'user-revoke-role': {
        const run = request.command === 'user-grant-role' ? grantRole : revokeRole;
        return {
          ok: true,
          output: await run(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.username, request.role),
        };
      }
      case 'user-deactivate':
      case 'user-reactivate':
      case 'user-unlock':
      case 'user-mark-compromised': {
        const run = {
          'user-deactivate': deactivateUser,
          'user-reactivate': reactivateUser,
          'user-unlock': unlockUser,
          'user-mark-compromised': markCompromised,
        }[request.command];
        return {
          ok: true,
          output: await run(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.username),
        };
      }
      case 'compliance-report':
        return { ok: true, output: await complianceReport(ward, operatorPrincipal(request.operator), operatorContext('admin-socket')) };
      case 'client-create':
        return {
          ok: true,
          output: await createClient(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.args),
        };
      case 'client-suspend':
        return {
          ok: true,
          output: await suspendClient(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.clientId),
        };
      case 'client-approve':
        return {
          ok: true,
          output: await approveClient(ward, operatorPrincipal(request.operator), operatorContext('admin-socket'), request.clientId),
        };
      default:
        return { ok: false, error: 'unknown command' };
    }
  } catch (e) {
    return { ok: false, error: e instanceof OperatorCommandError ? e.message : 'the server could not run the command (see its log)' };
  }
}

/** Sends one request; resolves undefined when no server listens on the socket. */
export function callAdminChannel(path: string, request: AdminRequest): Promise<AdminResponse | undefined> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(undefined);
    const socket = createConnection(path);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(data) as AdminResponse);
      } catch (e) {
        reject(e);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') resolve(undefined);
      else reject(e);
    });
  });
}

async function isAlive(path: string): Promise<boolean> {
  try {
    return (await callAdminChannel(path, { command: 'ping' }))?.ok === true;
  } catch {
    return false;
  }
}
